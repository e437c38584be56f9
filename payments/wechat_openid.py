"""The payer's openid for WeChat Pay JSAPI, from a silent `snsapi_base` OAuth round trip.

Inside WeChat's browser the cashier sends the payer to WeChat's authorize page (no prompt with
`snsapi_base`), WeChat sends them back with a code, and the code is exchanged for the openid with
the official account's secret. Only the openid is kept, in the session. (Signing in with WeChat,
which also gives it, is the accounts work; this is the part paying needs.) One call to one
endpoint, so `requests` does it; the URLs come from settings, for a proxy or a test double.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlencode

import requests
from django.conf import settings

from giftshop.errors import AppError, ProviderUnavailable

from . import error_codes as E

log = logging.getLogger(__name__)

SESSION_OPENID = "wechat_openid"
SESSION_STATE = "wechat_oauth_state"


def openid_available() -> bool:
    return bool(settings.WECHATPAY_APPID and settings.WECHAT_APP_SECRET)


def authorize_url(*, session, redirect_uri: str) -> str:
    """Where to send the payer: WeChat asks nothing with snsapi_base and comes back with a code."""
    state = secrets.token_urlsafe(16)
    session[SESSION_STATE] = state
    query = urlencode(
        {
            "appid": settings.WECHATPAY_APPID,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
        }
    )
    return f"{settings.WECHAT_OAUTH_BASE.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"


def openid_from_code(*, session, code: str, state: str) -> str:
    """Check the state we sent, exchange the code for the openid, keep it in the session."""
    expected = session.pop(SESSION_STATE, None)
    if not expected or not secrets.compare_digest(expected, state or "") or not code:
        raise AppError(E.BAD_OAUTH, "微信授权已失效，请重新打开支付页面")
    try:
        answer = requests.get(
            f"{settings.WECHAT_API_BASE.rstrip('/')}/sns/oauth2/access_token",
            params={
                "appid": settings.WECHATPAY_APPID,
                "secret": settings.WECHAT_APP_SECRET,
                "code": code,
                "grant_type": "authorization_code",
            },
            timeout=settings.WECHATPAY_TIMEOUT_SECONDS,
        )
        data = answer.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(f"WeChat OAuth unreachable: {type(exc).__name__}") from exc
    openid = data.get("openid") if isinstance(data, dict) else None
    if not openid:
        log.warning("wechat oauth refused the code: errcode=%s", data.get("errcode") if isinstance(data, dict) else "")
        raise AppError(E.BAD_OAUTH, "微信授权失败，请重新打开支付页面")
    session[SESSION_OPENID] = openid
    return openid
