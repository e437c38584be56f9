"""Product photos for the demo catalogue, drawn with Pillow when the demo data is loaded (nothing is
downloaded): a studio-style picture per product, one per colour for the scarf.

Drawn at twice the size and scaled down, so edges are smooth. Each returns PNG bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image, ImageColor, ImageDraw, ImageFilter

SIZE = 800
_S = 2 * SIZE / 1000  # drawing units: a 1000 × 1000 square


def _xy(*pts: float) -> list[float]:
    return [p * _S for p in pts]


def _canvas(top: str, bottom: str) -> Image.Image:
    """A soft vertical gradient, like a seamless studio backdrop, with the object's shadow."""
    side = 2 * SIZE
    top_rgb, bottom_rgb = ImageColor.getrgb(top), ImageColor.getrgb(bottom)
    grad = Image.new("RGB", (1, 256))
    for y in range(256):
        t = y / 255
        grad.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(top_rgb, bottom_rgb, strict=True)))
    img = grad.resize((side, side), Image.Resampling.BICUBIC)
    shadow = Image.new("L", (side, side), 0)
    ImageDraw.Draw(shadow).ellipse(_xy(180, 800, 820, 880), fill=90)
    shadow = shadow.filter(ImageFilter.GaussianBlur(30 * _S))
    img.paste(Image.new("RGB", (side, side), "#6b6b7a"), (0, 0), shadow)
    return img


def _finish(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.resize((SIZE, SIZE), Image.Resampling.LANCZOS).save(out, format="PNG", optimize=True)
    return out.getvalue()


def tea() -> bytes:
    img = _canvas("#fde9d9", "#f6c9a8")
    d = ImageDraw.Draw(img)
    for dx, tint in ((-170, "#c98b5a"), (170, "#d9a176")):
        cx = 500 + dx
        # cup: a tapered body, milk tea inside, pearls at the bottom, a dome lid and a straw
        d.polygon(_xy(cx - 130, 330, cx + 130, 330, cx + 100, 820, cx - 100, 820), fill="#fffaf5")
        d.polygon(_xy(cx - 118, 380, cx + 118, 380, cx + 95, 805, cx - 95, 805), fill=tint)
        for i, px in enumerate(range(cx - 75, cx + 80, 38)):
            for row in range(2):
                py = 760 - row * 34 + (i % 2) * 8
                d.ellipse(_xy(px - 17, py - 17, px + 17, py + 17), fill="#3b2418")
        d.rectangle(_xy(cx - 140, 310, cx + 140, 340), fill="#ffffff")
        d.chord(_xy(cx - 130, 220, cx + 130, 400), 180, 360, fill="#ffffff", outline="#eadfd6", width=round(4 * _S))
        d.polygon(_xy(cx + 10, 120, cx + 40, 120, cx + 20, 300, cx - 10, 300), fill="#e4525f")
        d.rectangle(_xy(cx - 130, 500, cx + 130, 560), fill="#1d5fd1")
        d.ellipse(_xy(cx - 22, 512, cx + 22, 548), fill="#ffffff")
    return _finish(img)


def cake() -> bytes:
    img = _canvas("#fff0f3", "#f9cdd6")
    d = ImageDraw.Draw(img)
    d.ellipse(_xy(170, 740, 830, 860), fill="#ffffff", outline="#e8d7dc", width=round(4 * _S))  # plate
    d.rectangle(_xy(230, 480, 770, 790), fill="#fbe3c7")
    d.ellipse(_xy(230, 740, 770, 840), fill="#fbe3c7")
    d.rectangle(_xy(230, 600, 770, 640), fill="#f07a8a")  # strawberry jam layer
    d.ellipse(_xy(230, 420, 770, 540), fill="#fff7f0")  # cream top
    for x in range(250, 760, 60):  # cream drips
        d.ellipse(_xy(x, 470, x + 50, 540), fill="#fff7f0")
    for x, y in ((330, 430), (430, 405), (540, 405), (640, 430), (480, 455)):
        d.polygon(_xy(x, y - 10, x + 60, y - 10, x + 30, y + 60), fill="#e0243b")
        d.ellipse(_xy(x - 2, y - 40, x + 62, y + 12), fill="#e0243b")
        d.polygon(_xy(x + 10, y - 40, x + 30, y - 65, x + 50, y - 40), fill="#3f9b4b")
    d.rectangle(_xy(492, 250, 508, 410), fill="#7fb2ff")  # a candle
    d.ellipse(_xy(484, 205, 516, 255), fill="#ffc53d")
    return _finish(img)


SCARF_COLOURS = {"藏青": ("#1f2f5c", "#30467f"), "驼色": ("#b98a5a", "#cfa274"), "酒红": ("#7c1f33", "#9b2b44")}


def scarf(colour: str = "藏青") -> bytes:
    dark, light = SCARF_COLOURS.get(colour, SCARF_COLOURS["藏青"])
    img = _canvas("#eef2f8", "#d3dbe8")
    d = ImageDraw.Draw(img)
    # a folded scarf: a rolled body and two hanging ends with fringes and a stripe
    d.rounded_rectangle(_xy(180, 300, 820, 520), radius=110 * _S, fill=dark)
    for y in range(330, 500, 45):
        d.arc(_xy(200, y - 20, 800, y + 60), 200, 340, fill=light, width=round(10 * _S))
    for x0 in (300, 520):
        d.polygon(_xy(x0, 460, x0 + 180, 460, x0 + 170, 790, x0 + 10, 790), fill=light if x0 == 300 else dark)
        d.rectangle(_xy(x0 + 12, 700, x0 + 170, 720), fill="#f3ead8")
        for fx in range(x0 + 18, x0 + 170, 16):
            d.line(_xy(fx, 790, fx, 840), fill=dark if x0 == 300 else light, width=round(6 * _S))
    return _finish(img)


def tshirt() -> bytes:
    img = _canvas("#eaf6f1", "#c6e6d8")
    d = ImageDraw.Draw(img)
    body = (
        300,
        260,
        400,
        230,
        500,
        270,
        600,
        230,
        700,
        260,
        840,
        380,
        760,
        470,
        690,
        420,
        690,
        800,
        310,
        800,
        310,
        420,
        240,
        470,
        160,
        380,
    )
    d.polygon(_xy(*body), fill="#ffffff", outline="#cfd8d4", width=round(4 * _S))
    d.chord(_xy(420, 200, 580, 320), 0, 180, fill="#dfe9e5")
    d.ellipse(_xy(430, 440, 570, 580), fill="#e4525f")  # a heart-ish print
    d.ellipse(_xy(395, 440, 505, 550), fill="#e4525f")
    d.ellipse(_xy(495, 440, 605, 550), fill="#e4525f")
    d.polygon(_xy(400, 510, 600, 510, 500, 630), fill="#e4525f")
    return _finish(img)


def camera() -> bytes:
    img = _canvas("#eceff3", "#c9ced8")
    d = ImageDraw.Draw(img)
    d.rounded_rectangle(_xy(150, 330, 850, 740), radius=60 * _S, fill="#2b2f36")
    d.rounded_rectangle(_xy(380, 250, 620, 350), radius=30 * _S, fill="#2b2f36")  # viewfinder hump
    d.rectangle(_xy(150, 420, 850, 650), fill="#3a3f48")  # grip texture band
    d.ellipse(_xy(330, 370, 670, 710), fill="#15171b")
    d.ellipse(_xy(370, 410, 630, 670), fill="#4a5260")
    d.ellipse(_xy(420, 460, 580, 620), fill="#1b2a4a")
    d.ellipse(_xy(450, 480, 510, 540), fill="#7fa8ff")  # glint
    d.rounded_rectangle(_xy(700, 280, 790, 330), radius=12 * _S, fill="#d33b3b")  # shutter
    d.rectangle(_xy(200, 360, 290, 400), fill="#9aa3b2")
    return _finish(img)


def ring() -> bytes:
    img = _canvas("#f5f0fb", "#ddd0ee")
    d = ImageDraw.Draw(img)
    d.ellipse(_xy(260, 380, 740, 860), outline="#c7ccd6", width=round(60 * _S))
    d.ellipse(_xy(280, 400, 720, 840), outline="#eef1f6", width=round(20 * _S))
    d.polygon(
        _xy(430, 300, 570, 300, 620, 370, 500, 480, 380, 370), fill="#bfe3ff", outline="#ffffff", width=round(5 * _S)
    )
    d.line(_xy(380, 370, 620, 370), fill="#ffffff", width=round(5 * _S))
    return _finish(img)


def giftbox() -> bytes:
    img = _canvas("#e8f0fe", "#bcd0f7")
    d = ImageDraw.Draw(img)
    d.rectangle(_xy(220, 430, 780, 800), fill="#1d5fd1")
    d.rectangle(_xy(190, 350, 810, 450), fill="#2f74ea")
    d.rectangle(_xy(460, 350, 540, 800), fill="#ffc53d")
    d.ellipse(_xy(330, 230, 500, 360), outline="#ffc53d", width=round(34 * _S))
    d.ellipse(_xy(500, 230, 670, 360), outline="#ffc53d", width=round(34 * _S))
    return _finish(img)


def course() -> bytes:
    img = _canvas("#fff8e6", "#f5e0a8")
    d = ImageDraw.Draw(img)
    d.rounded_rectangle(_xy(180, 250, 820, 680), radius=30 * _S, fill="#2b2f36")  # a tablet showing a lesson
    d.rectangle(_xy(215, 285, 785, 645), fill="#1d5fd1")
    d.polygon(_xy(450, 380, 450, 550, 590, 465), fill="#ffffff")
    d.rectangle(_xy(330, 700, 670, 760), fill="#2b2f36")
    return _finish(img)


PHOTOS: dict[str, Callable[[], bytes]] = {
    "tea": tea,
    "cake": cake,
    "scarf": scarf,
    "tshirt": tshirt,
    "camera": camera,
    "ring": ring,
    "giftbox": giftbox,
    "course": course,
}
