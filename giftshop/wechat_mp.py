"""The official account (公众号) API: its access_token, the JS-SDK's jsapi_ticket, and the signed
`wx.config` a page inside WeChat needs before it may set its share card.

Both the token and the ticket are valid 7200 s and WeChat limits how often they may be fetched, so
each is kept in Django's cache (shared by every web process when CACHE_URL names Redis) until
`expires_in` minus a margin. The token helper is separate so other official-account calls (e.g.
WeChat sign-in's user info, template messages) can reuse it.

WeChat's own Python SDK (wechatpy) has had no release since 2021, so these two GETs and a sha1 are
done here with `requests`; the API base is a setting (a proxy, or a test double). Nothing secret
(AppSecret, token, ticket) is ever written to a log line: failures log the endpoint and errcode.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time

import requests
from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

# Refresh this long before WeChat's expiry, so a cached value is never used in its last minutes.
EXPIRY_MARGIN_SECONDS = 300
# WeChat's answers when the token it was given is no longer good: fetch a fresh one and try again.
TOKEN_INVALID = {40001, 40014, 42001}

# The JS-SDK calls the share card uses (JS-SDK 1.4+).
SHARE_APIS = ["updateAppMessageShareData", "updateTimelineShareData"]


class WeChatMPError(Exception):
    """WeChat refused (errcode) or could not be reached. `errcode` is WeChat's, or -1."""

    def __init__(self, endpoint: str, errcode: int, reason: str = ""):
        super().__init__(f"{endpoint}: errcode {errcode} {reason}".strip())
        self.endpoint = endpoint
        self.errcode = errcode
        self.reason = reason  # WeChat's errmsg, or the kind of network failure: never a secret


def configured() -> bool:
    return bool(settings.WECHAT_MP_APPID and settings.WECHAT_MP_SECRET)


def _key(kind: str) -> str:
    return f"wechat_mp:{kind}:{settings.WECHAT_MP_APPID}"


def _get(endpoint: str, params: dict) -> dict:
    url = f"{settings.WECHAT_MP_API_BASE.rstrip('/')}/{endpoint}"
    try:
        answer = requests.get(url, params=params, timeout=settings.WECHAT_MP_TIMEOUT_SECONDS)
        data = answer.json()
    except (requests.RequestException, ValueError) as exc:
        # The exception's text holds the URL with the secret or token in its query: name its type only.
        raise WeChatMPError(endpoint, -1, type(exc).__name__) from None
    if not isinstance(data, dict):
        raise WeChatMPError(endpoint, -1, "not an object")
    errcode = data.get("errcode") or 0
    if errcode:
        raise WeChatMPError(endpoint, int(errcode), str(data.get("errmsg", ""))[:80])
    return data


def _ttl(data: dict) -> int:
    try:
        expires_in = int(data.get("expires_in", 7200))
    except (TypeError, ValueError):
        expires_in = 7200
    return max(expires_in - EXPIRY_MARGIN_SECONDS, 60)


def access_token(*, refresh: bool = False) -> str:
    """The official account's access_token (`cgi-bin/token`), from the cache while it is good."""
    if not refresh:
        token = cache.get(_key("access_token"))
        if token:
            return token
    data = _get(
        "cgi-bin/token",
        {"grant_type": "client_credential", "appid": settings.WECHAT_MP_APPID, "secret": settings.WECHAT_MP_SECRET},
    )
    token = data.get("access_token")
    if not token:
        raise WeChatMPError("cgi-bin/token", -1, "no access_token")
    cache.set(_key("access_token"), token, _ttl(data))
    return token


def call_with_token(endpoint: str, params: dict | None = None) -> dict:
    """GET an official-account endpoint with the cached token; once more with a fresh token when
    WeChat says the token is invalid or expired (another process may have replaced it)."""
    for attempt in range(2):
        try:
            return _get(endpoint, {**(params or {}), "access_token": access_token(refresh=attempt > 0)})
        except WeChatMPError as exc:
            if exc.errcode not in TOKEN_INVALID or attempt:
                raise
            cache.delete(_key("access_token"))
    raise AssertionError("unreachable")


def jsapi_ticket(*, refresh: bool = False) -> str:
    """The JS-SDK ticket (`cgi-bin/ticket/getticket?type=jsapi`), from the cache while it is good."""
    if not refresh:
        ticket = cache.get(_key("jsapi_ticket"))
        if ticket:
            return ticket
    data = call_with_token("cgi-bin/ticket/getticket", {"type": "jsapi"})
    ticket = data.get("ticket")
    if not ticket:
        raise WeChatMPError("cgi-bin/ticket/getticket", -1, "no ticket")
    cache.set(_key("jsapi_ticket"), ticket, _ttl(data))
    return ticket


def jsapi_signature(*, ticket: str, noncestr: str, timestamp: int, url: str) -> str:
    """JS-SDK doc, appendix 1: sha1 of the four fields sorted by name, as key=value joined by "&",
    raw values (no URL escaping); `url` is the page's full URL without the "#" part."""
    fields = {"jsapi_ticket": ticket, "noncestr": noncestr, "timestamp": str(timestamp), "url": url.split("#", 1)[0]}
    string1 = "&".join(f"{k}={fields[k]}" for k in sorted(fields))
    return hashlib.sha1(string1.encode()).hexdigest()  # noqa: S324 - WeChat's algorithm, not ours to choose


def jsapi_config(*, url: str) -> dict | None:
    """What `wx.config` takes for the page at `url`, or None (not configured, or WeChat failed: the
    page then simply has no custom share card, and says nothing about it)."""
    if not configured():
        return None
    try:
        ticket = jsapi_ticket()
    except WeChatMPError as exc:
        log.warning("wechat mp: no jsapi ticket (%s errcode %s %s)", exc.endpoint, exc.errcode, exc.reason)
        return None
    noncestr = secrets.token_urlsafe(12)
    timestamp = int(time.time())
    return {
        "appId": settings.WECHAT_MP_APPID,
        "timestamp": timestamp,
        "nonceStr": noncestr,
        "signature": jsapi_signature(ticket=ticket, noncestr=noncestr, timestamp=timestamp, url=url),
        "jsApiList": SHARE_APIS,
    }
