"""Production stores photos in an S3-compatible bucket named by the environment (django-storages)."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import django; django.setup()
from django.core.files.storage import default_storage
from imagekit.utils import get_storage
default_storage.url("x")  # the lazy object loads its backend
s = default_storage._wrapped
print(type(s).__module__, type(s).__name__, type(get_storage()).__name__)
print(*(getattr(s, a, "-") for a in ("bucket_name", "endpoint_url", "region_name", "addressing_style", "querystring_auth", "location")))
print(default_storage.url("products/abc.jpg"))
"""


def _probe(**env: str) -> list[str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "PII_", "SECRET_", "MEDIA_"))
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "giftshop.settings.production",
            "SECRET_KEY": "x" * 60,
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
            "PII_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            **env,
        },
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_a_named_bucket_stores_photos_in_object_storage_behind_its_cdn_domain():
    kind, options, url = _probe(
        MEDIA_STORAGE_BUCKET="giftshop-1250000000",
        MEDIA_STORAGE_ENDPOINT_URL="https://cos.ap-shanghai.myqcloud.com",
        MEDIA_STORAGE_REGION="ap-shanghai",
        MEDIA_STORAGE_ACCESS_KEY_ID="AKIDEXAMPLE",
        MEDIA_STORAGE_SECRET_ACCESS_KEY="example-secret",
        MEDIA_STORAGE_CUSTOM_DOMAIN="img.gifts.example.com",
    )
    assert kind == "storages.backends.s3 S3Storage S3Storage"  # the sizes go to the same bucket
    assert options == "giftshop-1250000000 https://cos.ap-shanghai.myqcloud.com ap-shanghai virtual False media"
    assert url == "https://img.gifts.example.com/media/products/abc.jpg"


def test_without_a_bucket_photos_stay_on_local_disk():
    kind, _, url = _probe()
    assert kind.startswith("django.core.files.storage.filesystem FileSystemStorage")
    assert url == "/media/products/abc.jpg"
