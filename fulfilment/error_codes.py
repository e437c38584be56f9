"""Stable machine codes for the refusals of shipping and after-sales."""

NOT_SHIPPABLE = "not_shippable"
NOT_REFUNDABLE = "not_refundable"
REFUND_PENDING = "refund_pending"
ROLE_NOT_ALLOWED = "role_not_allowed"
UNKNOWN_ORDER = "unknown_order"
DUPLICATE_TRACKING = "duplicate_tracking"
