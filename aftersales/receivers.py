"""What money events mean for after-sales. Connected in `AftersalesConfig.ready` to
`payments.signals`; each runs inside the payments transaction."""

from __future__ import annotations

from .services import after_sales_refunded


def after_sales_on_refund_succeeded(sender, *, refund, **_kw) -> None:
    after_sales_refunded(refund=refund)
