"""Stable machine codes for the catalogue's refusals."""

OUT_OF_STOCK = "out_of_stock"
INVALID = "invalid"
# A staff member's role does not allow this (a shipper refunding or editing a price).
ROLE_NOT_ALLOWED = "role_not_allowed"
