"""Stable machine codes for the refusals of phone sign-in (HTTP statuses: giftshop/errors.py)."""

BAD_PHONE = "bad_phone"
BAD_CODE = "bad_code"
CODE_EXPIRED = "code_expired"
THROTTLED = "throttled"
PHONE_TAKEN = "phone_taken"
