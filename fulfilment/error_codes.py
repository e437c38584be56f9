"""Stable machine codes for the refusals of shipping and after-sales."""

NOT_SHIPPABLE = "not_shippable"
NOT_REFUNDABLE = "not_refundable"
REFUND_PENDING = "refund_pending"
ROLE_NOT_ALLOWED = "role_not_allowed"
UNKNOWN_ORDER = "unknown_order"
DUPLICATE_TRACKING = "duplicate_tracking"
# 交给快递 needs an e-waybill issued by the courier's API (not one typed by hand, none still pending).
NO_WAYBILL = "no_waybill"
# The parcel's courier cannot be moved by hand here (only the sandbox courier, while enabled).
NOT_DRIVABLE = "not_drivable"
# A courier cannot carry or deliver a parcel the shop never handed over (no pick-up scan, no 交给快递).
NOT_HANDED_OVER = "not_handed_over"
# A courier's webhook: the signature does not verify, or the body is not what the courier sends.
BAD_SIGNATURE = "bad_signature"
BAD_NOTIFICATION = "bad_notification"
# The courier refused to issue a waybill (bad account, no quota, bad address): not worth retrying.
CARRIER_REFUSED = "carrier_refused"
# The parcel's e-waybill was cancelled (refunded before it shipped): not printed, handed over or scanned.
WAYBILL_CANCELLED = "waybill_cancelled"
# The courier refused to cancel an e-waybill for good (it has collected the parcel): stop it by hand.
CANCEL_REFUSED = "cancel_refused"
# The courier never answered the cancel of an e-waybill before the retries ran out: cancel it by hand.
CANCEL_FAILED = "cancel_failed"
