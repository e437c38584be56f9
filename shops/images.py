"""Product photos: what an upload must be (checked with Pillow before it is stored), where it is
stored (Django's default storage: a local folder in the demo, S3-compatible object storage in
production), and the sizes the pages show (django-imagekit specs).

The specs are generated when a photo is saved (imagekit's `Optimistic` strategy), so a page that
shows a thumbnail computes its URL from the photo's name and touches neither the database nor the
storage. `python manage.py generateimages` makes any missing ones again (e.g. after moving storage).
"""

from __future__ import annotations

import uuid
import warnings
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from imagekit.cachefiles.strategies import Optimistic
from imagekit.models import ImageSpecField
from PIL import Image, UnidentifiedImageError
from pilkit.processors import MakeOpaque, ResizeToFill, ResizeToFit, Transpose

# Pillow's name of each accepted format and the extension a stored file gets.
ACCEPTED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


def photo_upload_to(instance, filename: str) -> str:
    """A fresh random name per upload: no merchant's file name (nor a clash) ends up in a URL."""
    ext = PurePosixPath(filename).suffix.lower().lstrip(".")
    ext = {"jpeg": "jpg"}.get(ext, ext)
    if ext not in ACCEPTED_FORMATS.values():
        ext = "jpg"
    folder = "skus" if instance.__class__.__name__ == "Sku" else "products"
    return f"{folder}/{uuid.uuid4().hex}.{ext}"


def validate_photo(value) -> None:
    """Refuse, as a field error, what is not a JPEG, PNG or WebP photo of sensible size.

    Runs on a fresh upload only (a photo already stored was checked when it came). Dimensions are
    read from the header before anything is decoded, so a decompression bomb (a small file that
    claims a huge picture) is refused without being inflated; then the picture is decoded in full,
    so a truncated or corrupt file is refused here rather than failing later in a thumbnail.
    """
    if getattr(value, "_committed", False):
        return
    max_bytes = settings.PRODUCT_IMAGE_MAX_BYTES
    if value.size is not None and value.size > max_bytes:
        raise ValidationError(
            _("图片不能超过 %(mb)s MB。"), code="image_too_large", params={"mb": round(max_bytes / 1024 / 1024, 1)}
        )
    max_side, min_side = settings.PRODUCT_IMAGE_MAX_SIDE, settings.PRODUCT_IMAGE_MIN_SIDE
    try:
        value.seek(0)
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that: treat it as the bomb it is.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(value) as img:
                if img.format not in ACCEPTED_FORMATS:
                    raise ValidationError(
                        _("只支持 JPEG、PNG 或 WebP 图片。"), code="image_type", params={"format": img.format}
                    )
                width, height = img.size
                if width > max_side or height > max_side:
                    raise ValidationError(
                        _("图片太大：最长边不能超过 %(max)s 像素（这张是 %(w)s × %(h)s）。"),
                        code="image_dimensions",
                        params={"max": max_side, "w": width, "h": height},
                    )
                if width < min_side or height < min_side:
                    raise ValidationError(
                        _("图片太小：最短边至少 %(min)s 像素（这张是 %(w)s × %(h)s）。"),
                        code="image_dimensions",
                        params={"min": min_side, "w": width, "h": height},
                    )
                img.load()
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationError(_("图片像素过多，无法处理。"), code="image_bomb") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ValidationError(_("文件不是有效的图片，或已损坏。"), code="image_invalid") from exc
    finally:
        value.seek(0)


def _spec(*processors, size: tuple[int, int], fill: bool, quality: int = 82) -> ImageSpecField:
    resize = ResizeToFill(*size) if fill else ResizeToFit(*size, upscale=False)
    return ImageSpecField(
        source="image",
        # Phone photos carry their rotation in EXIF; transparent PNGs get a white background in JPEG.
        processors=[Transpose(), MakeOpaque(), resize, *processors],
        format="JPEG",
        options={"quality": quality, "optimize": True, "progressive": True},
        cachefile_strategy=Optimistic,
    )


def tile_spec() -> ImageSpecField:
    """Square 480 px: shop tiles, the gift card, the share card (og:image) and the poster."""
    return _spec(size=(480, 480), fill=True)


def large_spec() -> ImageSpecField:
    """The product page: the whole photo, at most 960 px a side."""
    return _spec(size=(960, 960), fill=False, quality=85)


def thumb_spec() -> ImageSpecField:
    """A 款式's own photo beside its name: square 160 px."""
    return _spec(size=(160, 160), fill=True)
