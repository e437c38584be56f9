"""The share card: Open Graph tags on claim, lottery and bulk pages, and inside WeChat the JS-SDK
config signed from a cached jsapi_ticket, against a local double of WeChat's API."""

import hashlib
import io
import json
import logging
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.utils import timezone
from PIL import Image

from campaigns.models import BulkRecipient
from campaigns.services.bulk import bulk_checkout, bulk_order_create
from campaigns.services.lottery import lottery_create
from giftshop import wechat_mp
from tests.conftest import pay
from tests.photos import give_photo
from tests.wechat_mp_double import WeChatMPDouble

pytestmark = pytest.mark.django_db

WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.50(0x1800323d) NetType/WIFI Language/zh_CN"
)


class Head(HTMLParser):
    """The page's meta tags (values unescaped, as a crawler reads them) and script tags."""

    def __init__(self, html: str):
        super().__init__()
        self.meta: dict[str, str] = {}
        self.scripts: list[dict] = []
        self._in_json: str | None = None
        self.json: dict[str, str] = {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and ("property" in a or "name" in a):
            self.meta[a.get("property") or a["name"]] = a.get("content", "")
        if tag == "script":
            self.scripts.append(a)
            if a.get("type") == "application/json":
                self._in_json = a.get("id")

    def handle_data(self, data):
        if self._in_json:
            self.json[self._in_json] = self.json.get(self._in_json, "") + data

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_json = None


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def wechat(settings):
    double = WeChatMPDouble().start()
    for k, v in double.settings().items():
        setattr(settings, k, v)
    yield double
    double.stop()


def fetch_image(client, url: str) -> Image.Image:
    assert url.startswith("http://testserver/")
    response = client.get(urlsplit(url).path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    img = Image.open(io.BytesIO(body))
    img.load()
    return img


def claim_head(client, gift, **headers) -> Head:
    response = client.get(gift.claim_path(), **headers)
    assert response.status_code == 200
    return Head(response.content.decode())


# ----- Open Graph -----


def test_claim_page_has_og_title_and_og_image_and_the_image_url_serves_the_product_photo(
    client, make_gift, sender, sku, media
):
    give_photo(sku.product)
    gift = make_gift(mode="single", recipients=1, message="生日快乐！")
    head = claim_head(client, gift)
    assert head.meta["og:title"] == "alice 送你一份礼物"
    assert head.meta["og:description"] == "生日快乐！"
    assert head.meta["og:url"] == f"http://testserver{gift.claim_path()}"
    img = fetch_image(client, head.meta["og:image"])
    assert img.size == (480, 480) and img.format == "JPEG"


def test_without_a_product_photo_the_card_image_is_served(client, make_gift):
    gift = make_gift(mode="single", recipients=1, message="")
    head = claim_head(client, gift)
    assert head.meta["og:image"].endswith("/static/img/share-card.png")
    assert head.meta["og:description"] == "一点心意，请收下"
    assert fetch_image(client, head.meta["og:image"]).format == "PNG"


def test_the_sender_name_and_blessing_are_escaped_in_the_tags(client, make_gift, sender):
    sender.first_name, sender.last_name = '"><script>alert(1)</script>', ""
    sender.save()
    message = "祝你 \"开心\" & <b>快乐</b>' onload='x"
    gift = make_gift(mode="single", recipients=1, message=message)
    html = client.get(gift.claim_path()).content.decode()
    assert "<script>alert(1)</script>" not in html and "<b>快乐</b>" not in html
    head = Head(html)
    # A crawler reading the attributes gets the text back exactly as typed.
    assert head.meta["og:title"] == '"><script>alert(1)</script> 送你一份礼物'
    assert head.meta["og:description"] == message


def test_the_claim_page_names_the_paid_sku_and_offers_each_option_with_photo_and_price(
    client, make_gift, sku, recipient, media
):
    from tests.factories import SkuFactory

    give_photo(sku.product)
    cheaper = SkuFactory(product=sku.product, price_fen=8800, original_price_fen=9900, attributes={"颜色": "驼色"})
    give_photo(cheaper, color="#d35400")
    gift = make_gift(mode="single", recipients=1, allow_sku_choice=True)
    client.force_login(recipient)
    html = client.get(gift.claim_path()).content.decode()
    assert f"款式：{sku.label}" in html
    assert cheaper.thumb_url in html and "¥88.00" in html
    assert sku.product.tile_url in html  # the paid 款式 has no photo of its own: the product's


def test_lottery_and_bulk_pages_carry_the_share_card(client, django_capture_on_commit_callbacks, sender, sku):
    with django_capture_on_commit_callbacks(execute=True):
        lottery = pay(
            lottery_create(
                sender=sender, sku_id=sku.pk, winners=2, draw_at=timezone.now() + timedelta(hours=1), message="抽奖啦"
            )
        )
    head = Head(client.get(lottery.claim_path()).content.decode())
    assert head.meta["og:title"].startswith("alice 送你一份礼物")
    assert head.meta["og:description"] == "抽奖啦" and head.meta["og:image"].startswith("http://testserver/")

    with django_capture_on_commit_callbacks(execute=True):
        order = bulk_order_create(sender=sender, sku_id=sku.pk, csv_text="陈静,13700137001,\n", message="新春快乐")
    order.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        pay(bulk_checkout(order=order, sender=sender))
    row = BulkRecipient.objects.get(order=order)
    head = Head(client.get(f"/b/{row.token}/").content.decode())
    assert head.meta["og:title"] == "alice 送你一份礼物" and head.meta["og:description"] == "新春快乐"


# ----- WeChat JS-SDK -----


def test_outside_wechat_there_is_no_sdk_and_no_call_to_wechat(client, make_gift, wechat):
    head = claim_head(client, make_gift(mode="single", recipients=1))
    assert "wx-share" not in head.json and not any("jweixin" in s.get("src", "") for s in head.scripts)
    assert wechat.calls == []


def test_inside_wechat_without_settings_there_is_no_wx_config(client, make_gift, settings):
    settings.WECHAT_MP_APPID = settings.WECHAT_MP_SECRET = ""
    head = claim_head(client, make_gift(mode="single", recipients=1), HTTP_USER_AGENT=WECHAT_UA)
    assert "wx-share" not in head.json and not any("jweixin" in s.get("src", "") for s in head.scripts)


def test_inside_wechat_the_page_is_configured_with_a_signature_wechat_would_accept(
    client, make_gift, wechat, sku, media
):
    give_photo(sku.product)
    gift = make_gift(mode="single", recipients=1, message="一起喝奶茶")
    head = claim_head(client, gift, HTTP_USER_AGENT=WECHAT_UA, QUERY_STRING="from=groupmessage")
    data = json.loads(head.json["wx-share"])
    config, share = data["config"], data["share"]
    assert config["appId"] == wechat.appid and config["jsApiList"] == wechat_mp.SHARE_APIS
    # Recompute the signature as WeChat does (JS-SDK appendix 1) with the ticket the double issued,
    # for the URL the page was opened at, query included.
    (ticket,) = wechat.tickets
    url = f"http://testserver{gift.claim_path()}?from=groupmessage"
    string1 = f"jsapi_ticket={ticket}&noncestr={config['nonceStr']}&timestamp={config['timestamp']}&url={url}"
    assert config["signature"] == hashlib.sha1(string1.encode()).hexdigest()
    assert share == {
        "title": "alice 送你一份礼物",
        "desc": "一起喝奶茶",
        "link": f"http://testserver{gift.claim_path()}",
        "imgUrl": head.meta["og:image"],
    }
    srcs = [s.get("src", "") for s in head.scripts]
    assert "https://res.wx.qq.com/open/js/jweixin-1.6.0.js" in srcs
    assert any(s.endswith("js/wx-share.js") for s in srcs)


def test_the_token_and_ticket_are_fetched_once_and_then_served_from_the_cache(client, make_gift, wechat):
    gift = make_gift(mode="single", recipients=1)
    for _ in range(3):
        claim_head(client, gift, HTTP_USER_AGENT=WECHAT_UA)
    assert wechat.paths() == ["/cgi-bin/token", "/cgi-bin/ticket/getticket"]
    token_call = wechat.calls[0][1]
    assert token_call == {"grant_type": "client_credential", "appid": wechat.appid, "secret": wechat.secret}


def test_a_token_wechat_no_longer_accepts_is_replaced_once(client, make_gift, wechat):
    wechat_mp.access_token()  # cached
    wechat.revoke_tokens()  # e.g. another server fetched a newer one: 40001 for ours
    head = claim_head(client, make_gift(mode="single", recipients=1), HTTP_USER_AGENT=WECHAT_UA)
    assert "wx-share" in head.json
    assert wechat.paths() == [
        "/cgi-bin/token",
        "/cgi-bin/ticket/getticket",
        "/cgi-bin/token",
        "/cgi-bin/ticket/getticket",
    ]


@pytest.mark.parametrize("endpoint", ["/cgi-bin/token", "/cgi-bin/ticket/getticket"])
def test_an_errcode_from_wechat_leaves_the_page_working_and_logs_no_secret(client, make_gift, wechat, caplog, endpoint):
    wechat.fail_next[endpoint] = [40164, 40164]
    gift = make_gift(mode="single", recipients=1)
    with caplog.at_level(logging.WARNING, logger="giftshop.wechat_mp"):
        head = claim_head(client, gift, HTTP_USER_AGENT=WECHAT_UA)
    assert "wx-share" not in head.json and head.meta["og:title"] == "alice 送你一份礼物"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "40164" in logged
    assert wechat.secret not in logged and not any(t in logged for t in wechat.tokens)
    assert cache.get(f"wechat_mp:jsapi_ticket:{wechat.appid}") is None  # nothing bad was cached


def test_a_wechat_that_does_not_answer_in_time_leaves_the_page_working(client, make_gift, wechat, caplog):
    wechat.stall_seconds = 2.5  # past WECHAT_MP_TIMEOUT_SECONDS (1 s)
    gift = make_gift(mode="single", recipients=1)
    with caplog.at_level(logging.WARNING, logger="giftshop.wechat_mp"):
        head = claim_head(client, gift, HTTP_USER_AGENT=WECHAT_UA)
    assert "wx-share" not in head.json and "og:image" in head.meta
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ReadTimeout" in logged and wechat.secret not in logged


def test_the_signature_matches_the_example_in_wechats_documentation():
    # JS-SDK documentation, appendix 1 (附录1-JS-SDK使用权限签名算法).
    assert (
        wechat_mp.jsapi_signature(
            ticket="sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
            noncestr="Wm3WZYTPz0wzccnW",
            timestamp=1414587457,
            url="http://mp.weixin.qq.com?params=value#fragment",
        )
        == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    )


def test_the_token_is_cached_for_its_lifetime_less_the_margin(wechat, monkeypatch):
    seen = {}
    real_set = cache.set

    def spy(key, value, timeout=None, **kw):
        seen[key] = timeout
        return real_set(key, value, timeout, **kw)

    monkeypatch.setattr(cache, "set", spy)
    wechat_mp.jsapi_ticket()
    assert seen == {
        f"wechat_mp:access_token:{wechat.appid}": 7200 - wechat_mp.EXPIRY_MARGIN_SECONDS,
        f"wechat_mp:jsapi_ticket:{wechat.appid}": 7200 - wechat_mp.EXPIRY_MARGIN_SECONDS,
    }
