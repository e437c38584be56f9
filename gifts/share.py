"""The share card of a gift page (claim, lottery, bulk link): what a chat shows when the link is
pasted (Open Graph tags), and inside WeChat's browser the signed JS-SDK config that lets 分享给朋友 /
分享到朋友圈 send the same title, text and picture (WeChat reads its own card, not Open Graph)."""

from __future__ import annotations

from django.templatetags.static import static
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from giftshop import wechat_mp

# WeChat's browser says so in its User-Agent (…MicroMessenger/8.0…), on phones and desktops alike.
WECHAT_UA = "MicroMessenger"


def in_wechat(request) -> bool:
    return WECHAT_UA in request.META.get("HTTP_USER_AGENT", "")


def share_card(request, *, sender_name: str, message: str, image_url: str, title: str | None = None) -> dict:
    """Title "X 送你一份礼物", the blessing, an absolute picture URL and the page's own URL.

    The values are plain text: templates escape them (attributes and JSON), never mark them safe.
    """
    url = request.build_absolute_uri(request.path)
    card = {
        "title": title or _("%(sender)s 送你一份礼物") % {"sender": sender_name},
        "description": Truncator(message or _("一点心意，请收下")).chars(120),
        "image": request.build_absolute_uri(image_url or static("img/share-card.png")),
        "url": url,
        "wx": None,
    }
    if in_wechat(request):
        # Signed for the exact URL the page was opened at (query included, "#…" never reaches us).
        config = wechat_mp.jsapi_config(url=request.build_absolute_uri())
        if config is not None:
            card["wx"] = {
                "config": config,
                "share": {"title": card["title"], "desc": card["description"], "link": url, "imgUrl": card["image"]},
            }
    return card
