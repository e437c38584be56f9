"""The after-sales app's refusal codes (HTTP statuses: giftshop.errors.HTTP_STATUS)."""

AFTER_SALES_OPEN = "after_sales_open"  # one request at a time per parcel
WINDOW_CLOSED = "after_sales_window_closed"  # return-and-refund: 7 days after delivery
NOT_ELIGIBLE = "not_eligible"  # this parcel cannot have this kind of request now
BAD_PHOTO = "bad_photo"  # not an image, too large, too many
ILLEGAL_TRANSITION = "illegal_transition"
ROLE_NOT_ALLOWED = "role_not_allowed"
INVALID = "invalid"
