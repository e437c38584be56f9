"""Stable machine codes for the catalogue's refusals."""

OUT_OF_STOCK = "out_of_stock"
INVALID = "invalid"
