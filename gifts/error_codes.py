"""Stable machine codes for every refusal of the gift core (checkout, claim, state machine).
Clients switch on these; their HTTP statuses are in giftshop/errors.py."""

# checkout
NOT_ELIGIBLE = "not_eligible"
PRICE_CHANGED = "price_changed"
OUT_OF_STOCK = "out_of_stock"
BAD_MODE = "bad_mode"
BAD_QUANTITY = "bad_quantity"
BAD_RECIPIENTS = "bad_recipients"
UNKNOWN_RECIPIENT = "unknown_recipient"
CANNOT_GIFT_SELF = "cannot_gift_self"

# claim
ALL_TAKEN = "all_taken"
ALREADY_TAKEN_BY_YOU = "already_taken_by_you"
TAKEN_BY_OTHER = "taken_by_other"
NOT_YOURS = "not_yours"
EXPIRED = "expired"
ALREADY_ACCEPTED = "already_accepted"
ALREADY_DECLINED = "already_declined"
NOT_GROUP = "not_group"
SKU_CHOICE_NOT_ALLOWED = "sku_choice_not_allowed"
SKU_NOT_ALLOWED = "sku_not_allowed"
BAD_ADDRESS = "bad_address"
NOT_CLAIMABLE = "not_claimable"
BAD_THANKS = "bad_thanks"

# the sender
NOTHING_TO_WITHDRAW = "nothing_to_withdraw"

# the state machine
ILLEGAL_TRANSITION = "illegal_transition"
