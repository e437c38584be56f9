"""allauth's WeChat provider with our endpoints and the two apps (official account, open platform).

Selected by SOCIALACCOUNT_PROVIDERS["weixin"]["provider_class"]; its URLs (accounts/wechat/urls.py)
keep allauth's names (`weixin_login`, `weixin_callback`)."""

from allauth.socialaccount.providers.weixin.provider import WeixinProvider

from accounts.wechat.views import WechatOAuth2Adapter


class WechatProvider(WeixinProvider):
    package = "accounts.wechat"
    oauth2_adapter_class = WechatOAuth2Adapter


provider_classes = [WechatProvider]
