"""Codes the sandbox gateway and courier answer with, as an outside provider's API would."""

BAD_SIGNATURE = "bad_signature"
BAD_NOTIFICATION = "bad_notification"
UNKNOWN_ORDER = "unknown_order"
UNKNOWN_WAYBILL = "unknown_waybill"
# The courier scans no cancelled waybill, and cancels none it has collected.
WAYBILL_CANCELLED = "waybill_cancelled"
ALREADY_COLLECTED = "already_collected"
ORDER_CLOSED = "order_closed"
REFUND_REFUSED = "refund_refused"
REFUND_EXCEEDS_PAYMENT = "refund_exceeds_payment"
# Fast-forward (operator admin): the gift is in a state where the step means nothing.
NOT_FAST_FORWARDABLE = "not_fast_forwardable"
