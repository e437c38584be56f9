"""WeChat sign-in (allauth's weixin provider, our endpoints) against a local double of WeChat OAuth."""

from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import Phone
from giftshop.settings.base import wechat_login_apps
from tests.accounts.wechat_oauth_double import WeChatOAuthDouble
from tests.conftest import last_code

MP_APPID, MP_SECRET = "wx-mp-appid-0001", "mp-secret-made-for-this-test"
OPEN_APPID, OPEN_SECRET = "wx-open-appid-0002", "open-secret-made-for-this-test"
IN_WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)


@pytest.fixture
def wechat(settings):
    double = WeChatOAuthDouble({MP_APPID: MP_SECRET, OPEN_APPID: OPEN_SECRET}).start()
    settings.WECHAT_OAUTH_BASE = settings.WECHAT_API_BASE = double.url
    settings.WECHATPAY_APPID = MP_APPID
    settings.SOCIALACCOUNT_PROVIDERS = {
        **settings.SOCIALACCOUNT_PROVIDERS,
        "weixin": {
            **settings.SOCIALACCOUNT_PROVIDERS["weixin"],
            "APPS": wechat_login_apps(
                mp_appid=MP_APPID,
                mp_secret=MP_SECRET,
                open_appid=OPEN_APPID,
                open_secret=OPEN_SECRET,
                mp_scope="snsapi_base",
            ),
        },
    }
    yield double
    double.stop()


def start(client: Client, **extra):
    """Tap 微信登录: allauth sends the browser to WeChat's authorize page with a fresh state."""
    r = client.post("/accounts/weixin/login/", {"next": "/received/", **extra.pop("data", {})}, **extra)
    assert r.status_code == 302, r.content[:500]
    return r["Location"]


def wechat_answers(double, location: str):
    """The browser at WeChat: WeChat sends it back to our callback with a code and the state."""
    import requests

    r = requests.get(location.split("#")[0], allow_redirects=False, timeout=5)
    assert r.status_code == 302
    back = urlsplit(r.headers["Location"])
    return back.path, {k: v[0] for k, v in parse_qs(back.query).items()}


def test_desktop_qr_login_creates_an_account_with_the_nickname(db, wechat):
    client = Client()
    location = start(client)
    url = urlsplit(location)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.path == "/connect/qrconnect" and query["appid"] == OPEN_APPID and query["scope"] == "snsapi_login"
    assert query["redirect_uri"] == "http://testserver/accounts/weixin/login/callback/" and query["state"]
    wechat.next_person("o-web-openid-1", nickname="小明")
    path, back = wechat_answers(wechat, location)
    r = client.get(path, back)
    assert r.status_code == 302 and r["Location"] == "/received/"
    account = SocialAccount.objects.get(provider="weixin", uid="o-web-openid-1")
    assert account.user.first_name == "小明" and not account.user.has_usable_password()
    assert client.get("/received/").status_code == 200
    assert ("/sns/userinfo", {"access_token": wechat.requests[-1][1]["access_token"], "openid": "o-web-openid-1"}) in [
        (p, {k: q[k] for k in ("access_token", "openid")}) for p, q in wechat.requests if p == "/sns/userinfo"
    ]
    # The secret went to WeChat's token endpoint only.
    token_calls = [q for p, q in wechat.requests if p == "/sns/oauth2/access_token"]
    assert token_calls[0]["secret"] == OPEN_SECRET and token_calls[0]["appid"] == OPEN_APPID


def test_inside_wechat_the_silent_login_keeps_the_openid_for_jsapi_pay(db, wechat):
    client = Client(HTTP_USER_AGENT=IN_WECHAT)
    location = start(client)
    url = urlsplit(location)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.path == "/connect/oauth2/authorize" and url.fragment == "wechat_redirect"
    assert query["appid"] == MP_APPID and query["scope"] == "snsapi_base"
    wechat.next_person("o-mp-openid-7")
    path, back = wechat_answers(wechat, location)
    r = client.get(path, back)
    assert r.status_code == 302 and r["Location"] == "/received/"
    assert SocialAccount.objects.filter(uid="o-mp-openid-7").exists()
    assert client.session["wechat_openid"] == "o-mp-openid-7"  # payments.wechat_openid.SESSION_OPENID
    assert not [p for p, _ in wechat.requests if p == "/sns/userinfo"]  # snsapi_base: nothing to ask


def test_signing_in_again_finds_the_same_account(db, wechat):
    users = []
    for _ in range(2):
        client = Client()
        location = start(client)
        wechat.next_person("o-web-again")
        path, back = wechat_answers(wechat, location)
        client.get(path, back)
        users.append(client.session["_auth_user_id"])
    assert users[0] == users[1]
    assert SocialAccount.objects.filter(uid="o-web-again").count() == 1


def test_a_bad_state_is_refused_and_makes_no_account(db, wechat):
    client = Client()
    location = start(client)
    wechat.next_person("o-forged")
    path, back = wechat_answers(wechat, location)
    before = get_user_model().objects.count()
    r = client.get(path, {**back, "state": "forged-state"})
    assert r.status_code == 401 and "_auth_user_id" not in client.session
    assert "微信登录没有成功" in r.content.decode()
    assert get_user_model().objects.count() == before and not SocialAccount.objects.exists()
    assert not [p for p, _ in wechat.requests if p == "/sns/oauth2/access_token"]  # never even traded


def test_a_bad_code_is_refused_and_makes_no_account(db, wechat):
    client = Client()
    location = start(client)
    wechat.next_person("o-bad-code")
    path, back = wechat_answers(wechat, location)
    r = client.get(path, {**back, "code": "not-a-code-wechat-issued"})
    assert r.status_code == 401 and "_auth_user_id" not in client.session
    assert "微信登录没有成功" in r.content.decode()
    assert not SocialAccount.objects.exists()
    token_calls = [q for p, q in wechat.requests if p == "/sns/oauth2/access_token"]
    assert token_calls  # asked WeChat, which answered errcode 40029


def test_a_phone_account_links_its_wechat(db, wechat, django_capture_on_commit_callbacks, sms):
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/login/", {"action": "phone_code", "phone": "13312345678"})
    client.post("/accounts/login/", {"action": "phone_login", "code": last_code(sms, "13312345678")})
    me = Phone.objects.get(number="13312345678").user
    location = start(client, data={"process": "connect", "next": "/accounts/3rdparty/"})
    wechat.next_person("o-linked")
    path, back = wechat_answers(wechat, location)
    r = client.get(path, back)
    assert r.status_code == 302
    assert SocialAccount.objects.get(uid="o-linked").user == me
    # From now on WeChat signs into the phone account.
    other = Client()
    location = start(other)
    wechat.next_person("o-linked")
    path, back = wechat_answers(wechat, location)
    other.get(path, back)
    assert int(other.session["_auth_user_id"]) == me.pk


def test_the_sign_in_pages_offer_wechat_only_when_it_is_set_up(db, wechat, settings):
    page = Client().get("/accounts/login/").content.decode()
    assert "微信登录" in page
    settings.SOCIALACCOUNT_PROVIDERS = {"weixin": {**settings.SOCIALACCOUNT_PROVIDERS["weixin"], "APPS": []}}
    assert "微信登录" not in Client().get("/accounts/login/").content.decode()
