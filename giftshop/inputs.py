"""Checks for values that arrive from outside (a provider's signed notice, a path segment), so a
value PostgreSQL or Python cannot take (a NUL byte, a number too large for bigint, an impossible
date) is refused as bad input where it arrives, never found out as a 500 deep inside.

Each check raises ValueError; the caller turns it into its own coded refusal.
"""

from __future__ import annotations

from datetime import datetime

from django.urls import register_converter
from django.utils.dateparse import parse_datetime

MAX_FEN = 10**12  # ten billion yuan: more than any order, well inside bigint


def text(value, *, max_length: int, name: str, required: bool = True) -> str:
    """A string without NUL bytes, at most `max_length` characters."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    if "\x00" in value:
        raise ValueError(f"{name} contains a NUL byte")
    if len(value) > max_length:
        raise ValueError(f"{name} is longer than {max_length}")
    if required and not value:
        raise ValueError(f"{name} is empty")
    return value


def fen(value, *, name: str) -> int:
    """An amount in fen: a whole number (not a bool, not a float) from 0 to MAX_FEN."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FEN:
        raise ValueError(f"{name} must be a whole number of fen from 0 to {MAX_FEN}")
    return value


def moment(value, *, name: str) -> datetime:
    """An ISO 8601 date and time that exists."""
    parsed = parse_datetime(text(value, max_length=40, name=name))  # raises ValueError when impossible
    if parsed is None:
        raise ValueError(f"{name} is not an ISO 8601 date and time")
    return parsed


class KeyConverter:
    """`<key:token>` in URLs: link tokens, order and waybill numbers. Letters, digits, `-_.` only, so
    a NUL byte or other stray input is a 404 before any view runs."""

    regex = r"[-A-Za-z0-9_.]{1,128}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(KeyConverter, "key")
