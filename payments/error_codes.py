"""Stable machine codes for every refusal the payments app gives. Clients switch on these."""

BAD_SIGNATURE = "bad_signature"
AMOUNT_MISMATCH = "amount_mismatch"
UNKNOWN_ORDER = "unknown_order"
UNKNOWN_EVENT = "unknown_event"
