"""Stable machine codes for every refusal the payments app gives. Clients switch on these; their
HTTP statuses are in giftshop/errors.py."""

# notifications
BAD_SIGNATURE = "bad_signature"
BAD_NOTIFICATION = "bad_notification"
WRONG_MERCHANT = "wrong_merchant"
AMOUNT_MISMATCH = "amount_mismatch"
UNKNOWN_ORDER = "unknown_order"
UNKNOWN_EVENT = "unknown_event"

# paying and refunding
NOT_PAYABLE = "not_payable"
BAD_OAUTH = "bad_oauth"
PROVIDER_REFUSED = "provider_refused"
PROVIDER_NOT_CONFIGURED = "provider_not_configured"
REFUND_REFUSED = "refund_refused"
REFUND_EXCEEDS_PAYMENT = "refund_exceeds_payment"
