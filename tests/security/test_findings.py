"""The attack run's findings (issue 20), replayed from outside against the instance served with
production settings (gunicorn with two workers, PostgreSQL, a shared Redis cache; conftest.py).
Each test is one finding, written from its reproduction; what it asserts is the fix.

The sign-in limit test spends the client's whole `auth` allowance, so it runs last.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from sandbox import signing
from tests.test_page_security import inline_code


def _lottery_token(served) -> str:
    """The demo's gifts with a shared link are lotteries (its bulk gifts have personal links)."""
    return served.query("SELECT claim_token FROM gifts_gift WHERE mode = 'lottery' ORDER BY id LIMIT 1")[0][0]


def test_pages_answer_with_the_security_headers_and_no_inline_code(served):
    s = served.session()
    product = served.query("SELECT id FROM shops_product ORDER BY id LIMIT 1")[0][0]
    for path in ("/", f"/products/{product}/", f"/l/{_lottery_token(served)}/", "/accounts/login/", "/api/v1/docs/"):
        r = s.get(served.url + path, timeout=30)
        assert r.status_code == 200, (path, r.status_code)  # the manifest has every static file they name
        csp = r.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in csp and "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["Referrer-Policy"] == "same-origin"
        # drf-spectacular opens the docs page to OAuth pop-ups (unsafe-none); the API has no OAuth.
        assert r.headers["Cross-Origin-Opener-Policy"] == ("unsafe-none" if "docs" in path else "same-origin")
        assert "camera=()" in r.headers["Permissions-Policy"]
        assert r.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        found = inline_code(r.text)
        assert found.found == [], (path, found.found)
        assert (found.nonced != []) == (path == "/api/v1/docs/"), path
    plain = served.session()
    plain.headers.pop("X-Forwarded-Proto")
    r = plain.get(served.url + "/", allow_redirects=False, timeout=30)
    assert r.status_code == 301 and r.headers["Location"].startswith("https://")


def test_metrics_are_for_the_scraper_only(served):
    s = served.session()
    assert s.get(served.url + "/metrics", timeout=30).status_code == 404
    forged = s.get(served.url + "/metrics", headers={"X-Forwarded-For": "10.0.0.1"}, timeout=30)
    assert forged.status_code == 404
    ok = s.get(served.url + "/metrics", headers={"Authorization": f"Bearer {served.env['METRICS_TOKEN']}"}, timeout=30)
    assert ok.status_code == 200 and "django_http_requests" in ok.text


@pytest.mark.parametrize(
    "path",
    [
        "/c/a%00b/",
        "/l/a%00b/",
        "/b/a%00b/",
        "/pay/GS%00/",
        "/api/v1/claims/a%00b/",
        "/api/v1/lotteries/a%00b/",
        "/api/v1/bulk-claims/a%00b/",
        "/api/v1/claims/" + "x" * 5000 + "/",
    ],
)
def test_a_nul_or_an_oversized_token_is_a_4xx(served, path):
    r = served.api("alice").get(served.url + path, timeout=30)
    assert 400 <= r.status_code < 500, r.status_code


def _signed(served, path: str, data: dict, secret_name: str):
    body = json.dumps(data).encode()  # 1e999 is written as Infinity, as a hostile sender would
    return served.session().post(
        served.url + path,
        data=body,
        headers={"Content-Type": "application/json", signing.HEADER: signing.sign(body, served.env[secret_name])},
        timeout=30,
    )


@pytest.mark.parametrize(
    "changes",
    [{"amount_fen": 1e999}, {"amount_fen": "9" * 400}, {"out_trade_no": "GS\u0000X"}, {"transaction_id": "x" * 500}],
)
def test_a_signed_payment_callback_with_impossible_fields_is_a_4xx(served, changes):
    data = {
        "event_type": "payment.succeeded",
        "out_trade_no": "GS1",
        "amount_fen": 100,
        "transaction_id": "T",
        **changes,
    }
    r = _signed(served, "/api/v1/payments/notify/sandbox/", data, "SANDBOX_PAYMENT_SECRET")
    assert 400 <= r.status_code < 500, r.text


@pytest.mark.parametrize(
    "changes",
    [{"occurred_at": "2026-13-45T99:00:00+08:00"}, {"occurred_at": 12}, {"event_id": "e" * 65}, {"status": "x\u0000"}],
)
def test_a_signed_tracking_callback_with_impossible_fields_is_a_4xx(served, changes):
    data = {
        "event_id": uuid.uuid4().hex,
        "waybill_no": "SBX000000000001",
        "status": "delivered",
        "description": "已签收",
        "occurred_at": "2026-12-01T10:00:00+08:00",
        **changes,
    }
    r = _signed(served, "/api/v1/carriers/notify/sandbox/", data, "SANDBOX_CARRIER_SECRET")
    assert 400 <= r.status_code < 500, r.text


def test_a_bad_address_id_on_the_data_page_is_not_a_500(served):
    s, answer = served.signed_in("bob")
    assert answer.status_code == 302, answer.status_code
    token = served.form_token(s, "/account/data/")
    r = s.post(
        served.url + "/account/data/",
        data={"csrfmiddlewaretoken": token, "action": "delete_address", "address_id": "abc"},
        headers={"Referer": "https://" + served.url.split("://", 1)[1] + "/account/data/"},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code < 500, r.status_code


def test_an_invitation_list_names_none_of_its_guesses(served):
    guesses = [f"guess-{i}" for i in range(300)] + ["bob", "carol"]
    r = served.api("alice").post(
        served.url + "/api/v1/lotteries/",
        json={
            "sku_id": served.query("SELECT id FROM shops_sku WHERE stock > 10 ORDER BY id LIMIT 1")[0][0],
            "winners": 1,
            "draw_at": "2099-01-01T00:00:00+08:00",
            "allowed_usernames": guesses,
        },
        timeout=30,
    )
    assert 400 <= r.status_code < 500
    assert not any(name in r.text for name in ("guess-0", "guess-299", '"bob"', '"carol"'))


def test_the_merchant_site_has_no_view_on_site_redirect(served):
    s, answer = served.signed_in("merchant", login_path="/merchant/login/")
    assert answer.status_code == 302, answer.status_code
    slot = served.query("SELECT id FROM gifts_slot ORDER BY id LIMIT 1")[0][0]
    content_type = served.query("SELECT id FROM django_content_type WHERE app_label = 'gifts' AND model = 'slot'")[0][0]
    r = s.get(f"{served.url}/merchant/r/{content_type}/{slot}/", allow_redirects=False, timeout=30)
    assert r.status_code in (302, 404) and "/c/" not in r.headers.get("Location", "")


# Made in the app's own process (the sandbox gateway and courier call back in-process, as in
# load_demo): a shop with no staff of the demo's and one gift of its goods, and two gifts of
# merchant2's shop, all from carol, paid, and accepted by bob; the sandbox courier issues each
# parcel's waybill at once. (Nothing the fuzzer's alice and merchant may touch: a refund they made
# would call the sandbox back in-process inside gunicorn, which serves no `testserver`.)
TO_SHIP_ORDERS = """
import json
from django.contrib.auth import get_user_model
from gifts.services.checkout import gift_create
from gifts.services.claim import AddressInput, slot_accept
from sandbox.payment import gateway_pay
from shops.eligibility import sku_eligibility
from shops.models import Product, Shop, Sku

User = get_user_model()
carol, bob = User.objects.get(username="carol"), User.objects.get(username="bob")
skus = Sku.objects.filter(product__shop__staff__user__username="merchant2", stock__gt=10).order_by("pk")
theirs = next(k for k in skus if sku_eligibility(k).eligible)
shop = Shop.objects.create(slug="probed", name="被探测的店")
product = Product.objects.create(shop=shop, category=theirs.product.category, title="礼盒")
probed = Sku.objects.create(product=product, attributes={"款式": "标准"}, price_fen=1000, original_price_fen=1000, stock=5)
address = {"name": "张三", "phone": "13812345678", "province": "广东省", "city": "深圳市",
           "district": "南山区", "detail": "科技园 1 号"}
orders = {}
for name, sku, count in (("probed", probed, 1), ("merchant2", theirs, 2)):
    assert sku_eligibility(sku).eligible, name
    orders[name] = []
    for _ in range(count):
        gift = gift_create(sender=carol, sku_id=sku.pk, mode="single", message="生日快乐")
        gateway_pay(out_trade_no=gift.payment.out_trade_no)
        gift.refresh_from_db()
        orders[name].append(slot_accept(gift=gift, user=bob, address=AddressInput.from_dict(address)).pk)
print(json.dumps(orders))
"""


def test_a_waybill_number_of_another_shop_is_taken_without_a_word_and_scans_stay_with_its_parcel(served):
    """The waybill probe: merchant2 typing a number another shop's parcel carries got 409
    duplicate_tracking ("already used for another order"), which told them that it exists. Now it
    is taken like any number (only a repeat within the shop is refused), and the courier's scans
    of the other shop's parcel do not reach merchant2's."""
    orders = json.loads(served.shell(TO_SHIP_ORDERS).strip().splitlines()[-1])
    [theirs], mine = orders["probed"], orders["merchant2"]
    [(number, status)] = served.query(
        "SELECT w.waybill_no, s.status FROM gifts_shipment w JOIN gifts_slot s ON s.id = w.slot_id WHERE s.id = %s",
        theirs,
    )
    assert number.startswith("SBX") and status == "to_ship"
    merchant2 = served.api("merchant2")

    def ship(slot: int):
        body = {"carrier": "sandbox", "tracking_no": number}
        return merchant2.post(f"{served.url}/api/v1/merchant/orders/{slot}/ship/", json=body, timeout=30)

    taken, again = ship(mine[0]), ship(mine[1])

    assert taken.status_code == 200, taken.text
    assert taken.json()["shipment"]["waybill_no"] == number
    assert again.status_code == 409 and again.json()["code"] == "duplicate_tracking"
    assert "本店" in again.json()["detail"]

    served.shell(f"from sandbox.carrier import gateway_scan; gateway_scan({number!r}, 'delivered')")
    statuses = dict(served.query("SELECT id, status FROM gifts_slot WHERE id IN (%s, %s)", theirs, mine[0]))
    assert statuses == {theirs: "delivered", mine[0]: "shipped"}
    scanned = served.query(
        "SELECT DISTINCT w.slot_id FROM gifts_trackingevent e JOIN gifts_shipment w ON w.id = e.shipment_id "
        "WHERE w.waybill_no = %s",
        number,
    )
    assert scanned == [(theirs,)]


@pytest.mark.parametrize(
    "login_path,username", [("/merchant/login/", "merchant2"), ("/accounts/password/login/", "carol")]
)
def test_wrong_passwords_lock_the_account_out_for_this_client(served, login_path, username):
    for _ in range(5):
        _, answer = served.signed_in(username, login_path=login_path, password="not-the-password")
        assert answer.status_code in (200, 429), answer.status_code  # the form again, or already refused
    s, answer = served.signed_in(username, login_path=login_path)  # the right password, too late
    assert answer.status_code in (200, 429), answer.status_code  # refused: no redirect into the site
    assert "sessionid" not in s.cookies


def test_the_server_log_holds_no_claim_link_token_or_phone_number(served):
    lines = served.log_path.read_text(errors="replace")
    tokens = [r[0] for r in served.query("SELECT claim_token FROM gifts_gift")]
    tokens += [r[0] for r in served.query("SELECT token FROM gifts_bulkrecipient")]
    tokens += [r[0] for r in served.query("SELECT key FROM authtoken_token")]
    assert tokens and len(lines) > 1000
    assert [t[:6] for t in tokens if t in lines] == []
    assert re.findall(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])", lines) == []  # not inside a request id
    assert served.env["SECRET_KEY"] not in lines and served.env["METRICS_TOKEN"] not in lines


def test_gunicorn_s_own_lines_are_the_site_s_json_in_its_time_zone(served):
    """gunicorn's own lines (a worker booting) go through the site's logging (gunicorn.conf.py): one JSON
    object each, stamped in TIME_ZONE like Django's, not gunicorn's text stamped in UTC."""
    lines = served.log_lines()
    booted = [line for line in lines if line.get("logger") == "gunicorn.error" and "Booting worker" in line["message"]]
    assert len(booted) >= 2, [line["message"] for line in lines[:5]]  # -w 2
    gunicorn_text = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\]")
    assert [line for line in lines if line["level"] == "RAW" and gunicorn_text.match(line["message"])] == []
    stamped = datetime.strptime(booted[0]["time"], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
    assert timedelta(0) < timezone.now() - stamped < timedelta(hours=4)  # UTC's stamp would be 8 hours ahead


def test_zz_a_forged_x_forwarded_for_does_not_lift_the_sign_in_limit_across_workers(served):
    """Last: it spends the `auth` allowance (20 a minute) of this client address. Two gunicorn
    workers count in the one Redis cache, and the proxy's X-Forwarded-For is not trusted (no
    NUM_PROXIES): a fresh forged address per request still meets the limit."""
    s = served.session()
    statuses = []
    for i in range(25):
        r = s.post(
            served.url + "/api/v1/auth/token/",
            json={"username": f"nobody-{i}", "password": "wrong-password"},
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
            timeout=30,
        )
        statuses.append(r.status_code)
    assert set(statuses) <= {400, 429}
    first = statuses.index(429)  # the limit was met, at the latest on the 21st try
    assert first <= 20 and set(statuses[first:]) == {429}, statuses
