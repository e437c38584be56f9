"""Money is integer fen inside; these filters turn it into ¥12.50 at the page edge."""

from django import template

register = template.Library()


@register.filter
def yuan(fen) -> str:
    if fen is None or fen == "":
        return ""
    fen = int(fen)
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}¥{fen // 100:,}.{fen % 100:02d}"
