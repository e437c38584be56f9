"""The OAuth round trip with WeChat: allauth's weixin adapter, pointed at our settings' endpoints."""

from __future__ import annotations

import logging

from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.weixin.client import WeixinOAuth2Client
from allauth.socialaccount.providers.weixin.views import WeixinOAuth2Adapter
from django.conf import settings

from payments.wechat_openid import SESSION_OPENID

log = logging.getLogger(__name__)

MP, WEB = "mp", "web"  # the official account inside WeChat; the open platform's QR login elsewhere


def in_wechat(request) -> bool:
    return "micromessenger" in request.META.get("HTTP_USER_AGENT", "").lower()


def app_context(app) -> str:
    return (app.settings or {}).get("context", WEB)


class WechatOAuth2Client(WeixinOAuth2Client):
    def get_redirect_url(self, authorization_url, scope, extra_params):
        url = super().get_redirect_url(authorization_url, scope, extra_params)
        # The official account's authorize page wants this fragment, or WeChat shows an error.
        return url + "#wechat_redirect" if "/connect/oauth2/authorize" in authorization_url else url


class WechatOAuth2Adapter(WeixinOAuth2Adapter):
    client_class = WechatOAuth2Client
    access_token_method = "GET"  # WeChat documents GET with a query string (allauth's default is POST)

    @property
    def access_token_url(self):
        return f"{settings.WECHAT_API_BASE.rstrip('/')}/sns/oauth2/access_token"

    @property
    def profile_url(self):
        return f"{settings.WECHAT_API_BASE.rstrip('/')}/sns/userinfo"

    @property
    def authorize_url(self):
        path = "/connect/oauth2/authorize" if app_context(self.get_provider().app) == MP else "/connect/qrconnect"
        return f"{settings.WECHAT_OAUTH_BASE.rstrip('/')}{path}"

    def complete_login(self, request, app, token, **kwargs):
        answer = kwargs.get("response") or {}
        openid = answer.get("openid")
        if not openid:
            raise OAuth2Error("WeChat answered no openid")
        data = {"openid": openid}
        if answer.get("unionid"):
            data["unionid"] = answer["unionid"]
        if "snsapi_base" not in str(answer.get("scope", "")):
            # snsapi_userinfo / snsapi_login: nickname and avatar too.
            with get_adapter().get_requests_session() as session:
                resp = session.get(self.profile_url, params={"access_token": token.token, "openid": openid})
                resp.raise_for_status()
                profile = resp.json()
            if profile.get("errcode"):
                log.warning("wechat userinfo refused: errcode=%s", profile.get("errcode"))
                raise OAuth2Error("WeChat userinfo refused")
            data.update({k: profile[k] for k in ("nickname", "headimgurl", "unionid") if profile.get(k)})
        if app_context(app) == MP and app.client_id == settings.WECHATPAY_APPID:
            # The same official account pays by JSAPI: the cashier needs no second OAuth round trip.
            request.session[SESSION_OPENID] = openid
        return self.get_provider().sociallogin_from_response(request, data)


oauth2_login = OAuth2LoginView.adapter_view(WechatOAuth2Adapter)
oauth2_callback = OAuth2CallbackView.adapter_view(WechatOAuth2Adapter)
