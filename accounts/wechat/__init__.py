"""WeChat sign-in through django-allauth's WeChat (weixin) provider.

Inside WeChat's browser the official account's OAuth (`/connect/oauth2/authorize`, `snsapi_base`:
silent, or `snsapi_userinfo`) signs the person in and leaves the openid WeChat Pay's JSAPI needs in
the session key the cashier reads (payments.wechat_openid), so paying right after does not bounce
through WeChat again. On a desktop the open platform's QR login (`/connect/qrconnect`,
`snsapi_login`). The endpoints come from WECHAT_OAUTH_BASE / WECHAT_API_BASE (a proxy or a test
double). allauth checks `state`; a bad code or state is refused before any account is made.
"""
