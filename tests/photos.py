"""Pictures for the photo tests, made here: real files in each format, and decompression bombs."""

from __future__ import annotations

import io
import struct
import zlib

from django.core.files.base import ContentFile
from PIL import Image


def picture(width: int = 600, height: int = 600, fmt: str = "PNG", color: str = "#c0392b", mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), color).save(out, format=fmt)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int, height: int) -> bytes:
    """A real PNG of width × height black 1-bit pixels: a few hundred KB that inflate to a picture
    far past any sane size. Made row by row, so the test itself never holds the inflated picture."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)  # filter byte + packed bits
    z = zlib.compressobj(9)
    idat = bytearray()
    for _ in range(height):
        idat += z.compress(row)
    idat += z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", bytes(idat)) + _chunk(b"IEND", b"")


def give_photo(product, *, color: str = "#2e86de") -> None:
    product.image.save("photo.png", ContentFile(picture(color=color)), save=True)
