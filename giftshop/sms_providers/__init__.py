"""The real SMS providers behind `giftshop.sms`: Tencent Cloud SMS and Aliyun SMS, each through its SDK."""

from __future__ import annotations

from urllib.parse import urlsplit

from giftshop.sms import TEMPLATES


def endpoint_split(endpoint: str) -> tuple[str, str]:
    """("https", "sms.tencentcloudapi.com") from "sms.tencentcloudapi.com" or "https://…";
    ("http", "127.0.0.1:8080") from "http://127.0.0.1:8080" (a proxy or a test double)."""
    if "://" not in endpoint:
        return "https", endpoint.strip("/")
    parts = urlsplit(endpoint)
    return parts.scheme, parts.netloc


def templates_missing(mapping: dict, setting: str) -> list[str]:
    """A configuration problem for each of our template keys that has no provider template id."""
    missing = [key for key in TEMPLATES if not mapping.get(key)]
    return [f"{setting} has no template id for {', '.join(missing)}"] if missing else []
