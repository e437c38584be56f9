"""The share poster: a PNG of the blue gift card (who sends it, the blessing, the product photo and
the QR code of the claim link), drawn with Pillow, for the sender to save and post where a link
cannot go (朋友圈, a printed card, another app).

It holds only what the card itself shows to anyone with the link; no recipient data.

Chinese text needs a font with CJK glyphs: POSTER_FONT_PATH, else the first of the usual system
fonts found (Debian's fonts-wqy-microhei, which `make browser-deps` installs, Noto CJK, macOS and
Windows fonts). Without any, Pillow's built-in font draws the Latin parts and boxes for the rest:
the poster still renders, and the QR code still works.
"""

from __future__ import annotations

import io
import logging
from functools import cache
from pathlib import Path

import qrcode
from django.conf import settings
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw, ImageFont, ImageOps

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 750, 1200
BLUE, BLUE_DARK, BLUE_LIGHT = "#1d5fd1", "#0f3f99", "#e8f0fe"
GOLD, INK, MUTED = "#ffc53d", "#1f2329", "#6b7280"

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)


@cache
def font_path() -> str | None:
    """The CJK font the poster uses, or None (Pillow's built-in font then)."""
    configured = settings.POSTER_FONT_PATH
    for candidate in ([configured] if configured else []) + list(FONT_CANDIDATES):
        if Path(candidate).is_file():
            return candidate
    log.warning("poster: no CJK font found (set POSTER_FONT_PATH); Chinese text will not render")
    return None


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = font_path()
    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            log.warning("poster: font %s could not be loaded", path)
    return ImageFont.load_default(size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int, max_lines: int) -> list[str]:
    """Break by character (Chinese has no spaces), at most `max_lines`, the last cut with "…"."""
    lines, line = [], ""
    for ch in text.replace("\r", ""):
        if ch == "\n" or draw.textlength(line + ch, font=font) > width:
            lines.append(line)
            line = "" if ch == "\n" else ch
            if len(lines) == max_lines:
                break
        else:
            line += ch
    else:
        lines.append(line)
        return [x for x in lines if x] or [""]
    last = lines[-1]
    while last and draw.textlength(last + "…", font=font) > width:
        last = last[:-1]
    lines[-1] = last + "…"
    return lines


def _centered(draw, y: int, text: str, font, fill, width: int = WIDTH) -> None:
    draw.text(((width - draw.textlength(text, font=font)) / 2, y), text, font=font, fill=fill)


def _rounded(img: Image.Image, radius: int) -> Image.Image:
    mask = Image.new("L", img.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, *img.size), radius=radius, fill=255)
    out = Image.new("RGBA", img.size)
    out.paste(img.convert("RGBA"), (0, 0), mask)
    return out


def _placeholder(side: int) -> Image.Image:
    """A gift box, when the product has no photo."""
    img = Image.new("RGB", (side, side), BLUE_LIGHT)
    d = ImageDraw.Draw(img)
    s = side / 100
    d.rectangle((25 * s, 42 * s, 75 * s, 80 * s), fill=BLUE)
    d.rectangle((20 * s, 32 * s, 80 * s, 44 * s), fill="#2f74ea")
    d.rectangle((46 * s, 32 * s, 54 * s, 80 * s), fill=GOLD)
    d.ellipse((34 * s, 20 * s, 50 * s, 34 * s), outline=GOLD, width=round(4 * s))
    d.ellipse((50 * s, 20 * s, 66 * s, 34 * s), outline=GOLD, width=round(4 * s))
    return img


def _qr(url: str, side: int) -> Image.Image:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2, box_size=10)
    qr.add_data(url)
    qr.make(fit=True)
    return (
        qr.make_image(fill_color=INK, back_color="white")
        .get_image()
        .convert("RGB")
        .resize((side, side), Image.Resampling.NEAREST)
    )


def poster_png(
    *, sender_name: str, message: str, product_title: str, sku_label: str, photo: Image.Image | None, claim_url: str
) -> bytes:
    img = Image.new("RGB", (WIDTH, HEIGHT), BLUE)
    d = ImageDraw.Draw(img)
    # The envelope: a darker band at the top like the card's flap, and the gold seal.
    for y in range(HEIGHT):
        t = y / HEIGHT
        d.line((0, y, WIDTH, y), fill=(int(29 + 20 * t), int(95 + 30 * t), int(209 + 25 * t)))
    d.rectangle((0, 0, WIDTH, 150), fill=BLUE_DARK)
    d.pieslice((-60, 30, WIDTH + 60, 270), 0, 180, fill=BLUE_DARK)
    d.ellipse((WIDTH / 2 - 48, 150, WIDTH / 2 + 48, 246), fill=GOLD, outline="#e0a800", width=4)
    d.text((WIDTH / 2, 198), "礼", font=_font(52), fill=BLUE_DARK, anchor="mm")
    _centered(d, 48, "Giftshop", _font(28), "#cfe0ff")

    title = _wrap(d, _("%(sender)s 送你一份礼物") % {"sender": sender_name}, _font(44), WIDTH - 100, 1)[0]
    _centered(d, 276, title, _font(44), "white")
    blessing_font = _font(30)
    y = 346
    for line in _wrap(d, message or _("一点心意，请收下"), blessing_font, WIDTH - 140, 3):
        _centered(d, y, line, blessing_font, "#eef4ff")
        y += 44

    # The product photo in a white frame, its name and 款式 below, centred between blessing and strip.
    strip_top = HEIGHT - 250
    below = 20 + 52 + (40 if sku_label else 0)  # frame, name, 款式
    room = strip_top - 20 - (y + 34)
    side = min(380, room - below)  # a three-line blessing leaves less room: a smaller photo
    top = y + 34 + max(0, (room - side - below) // 2)
    picture = ImageOps.fit(photo.convert("RGB"), (side, side)) if photo is not None else _placeholder(side)
    d.rounded_rectangle(((WIDTH - side) / 2 - 10, top - 10, (WIDTH + side) / 2 + 10, top + side + 10), 28, fill="white")
    framed = _rounded(picture, 20)
    img.paste(framed, ((WIDTH - side) // 2, top), framed)
    name = _wrap(d, product_title, _font(32), WIDTH - 100, 1)[0]
    _centered(d, top + side + 26, name, _font(32), "white")
    if sku_label:
        _centered(d, top + side + 70, _("款式：") + sku_label, _font(26), "#dbe7ff")

    # The QR code of the claim link on a white strip.
    d.rounded_rectangle((40, strip_top, WIDTH - 40, HEIGHT - 40), 24, fill="white")
    qr_side = 170
    img.paste(_qr(claim_url, qr_side), (70, strip_top + 20))
    d.text((270, strip_top + 48), _("扫码或长按识别"), font=_font(34), fill=INK)
    d.text((270, strip_top + 100), _("拆开礼物，自己填地址"), font=_font(28), fill=MUTED)
    d.text((270, strip_top + 142), _("送礼人看不到你的地址"), font=_font(24), fill=MUTED)

    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def gift_photo(gift) -> Image.Image | None:
    """The paid 款式's square photo (else the product's) from storage; None without one or if it
    cannot be read (the poster then draws a gift box)."""
    sku = gift.sku
    source = sku.image_tile if sku.image else (sku.product.image_tile if sku.product.image else None)
    if source is None:
        return None
    try:
        with source.storage.open(source.name, "rb") as f:
            photo = Image.open(io.BytesIO(f.read()))
            photo.load()
            return photo
    except Exception as exc:  # noqa: BLE001 - a missing or broken file must not break the poster
        log.warning("poster: product photo unreadable (%s)", type(exc).__name__)
        return None


def gift_poster_png(*, gift, claim_url: str) -> bytes:
    sender = gift.sender
    return poster_png(
        sender_name=sender.get_full_name() or sender.username,
        message=gift.message,
        product_title=gift.sku.product.title + (f" × {gift.quantity}" if gift.quantity > 1 else ""),
        sku_label=gift.sku.label if gift.sku.attributes else "",
        photo=gift_photo(gift),
        claim_url=claim_url,
    )
