"""No secret in any log line, at any level: the journeys run with every logger at DEBUG, and every
line (message, arguments, extra fields, traceback) is scanned for what must never be written down:
one-time codes, claim and bulk-link tokens (and so claim links), API tokens, phone numbers, the
recipient's name and street address, and keys.

The journeys go through the HTTP entry points where there is one, so the access log, the error
handlers and the third-party loggers (django, DRF, allauth, axes, celery) are scanned too: a sender
sends and pays (the gateway's signed callback), a friend claims with a phone number and an SMS code
(a wrong code first), a bulk list sends personal links and a friend proves the named phone with a
code, the sender resends a link, callbacks arrive unsigned and malformed, and the courier's tracking
scans arrive up to delivery.
"""

from __future__ import annotations

import io
import logging
import logging.config
import re

import pytest
from django.conf import settings
from django.core import mail
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from campaigns.models import BulkRecipient
from gifts.models import Gift, Slot
from giftshop.logs import logging_config
from giftshop.sms import ConsoleSms
from sandbox.carrier import gateway_scan
from sandbox.payment import gateway_pay
from tests.conftest import ADDRESS, api_for

pytestmark = pytest.mark.django_db

FRIEND_PHONE = "13712345601"
BULK_PHONE = "13912345602"
# An unmasked mainland mobile number anywhere in a line (masked ones read 139****5602).
PHONE_NUMBER = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")  # not inside a hex request id


@pytest.fixture
def every_log_line():
    """The production log configuration (JSON lines, giftshop/logs.py) at DEBUG, and every logger
    at DEBUG too, written into a buffer: what a log collector would receive."""
    logging.config.dictConfig(logging_config(log_format="json", level="DEBUG"))
    buffer = io.StringIO()
    handler = logging.getLogger().handlers[0]
    handler.setStream(buffer)
    touched = []
    for name in list(logging.root.manager.loggerDict):
        logger = logging.getLogger(name)
        touched.append((logger, logger.level))
        logger.setLevel(logging.DEBUG)
        if not logger.propagate:
            logger.addHandler(handler)
    try:
        yield lambda: buffer.getvalue().splitlines()
    finally:
        for logger, level in touched:
            logger.setLevel(level)
            if handler in logger.handlers:
                logger.removeHandler(handler)
        logging.config.dictConfig(settings.LOGGING)


def _code_for(phone: str, template: str) -> str:
    return [m["params"]["code"] for m in ConsoleSms.outbox if m["phone"] == phone and m["template"] == template][-1]


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_the_journeys_write_no_secret_to_any_log_at_debug(
    every_log_line, django_capture_on_commit_callbacks, sender, recipient, sku, client
):
    ConsoleSms.outbox.clear()
    alice = api_for(sender)
    with django_capture_on_commit_callbacks(execute=True):
        # Send and pay: the gateway's signed callback comes back through the notify endpoint.
        r = alice.post("/api/v1/gifts/", {"sku_id": sku.pk, "mode": "single", "message": "生日快乐"}, format="json")
        assert r.status_code == 201, r.content
        gift = Gift.objects.get(pk=r.json()["id"])
        gateway_pay(out_trade_no=gift.payment.out_trade_no)
    gift.refresh_from_db()
    assert gift.status == "sent"
    assert client.get(f"/c/{gift.claim_token}/").status_code == 200  # the link opened before signing in
    assert client.get(f"/c/{gift.claim_token}x/").status_code == 404  # a mistyped link

    # A friend signs in with a phone number and an SMS code (a wrong one first) and claims.
    friend = APIClient()
    with django_capture_on_commit_callbacks(execute=True):
        assert friend.post("/api/v1/auth/phone/code/", {"phone": FRIEND_PHONE}, format="json").status_code == 202
    login_code = _code_for(FRIEND_PHONE, "login_code")
    bad = friend.post("/api/v1/auth/phone/login/", {"phone": FRIEND_PHONE, "code": _wrong(login_code)}, format="json")
    assert bad.status_code == 400
    r = friend.post("/api/v1/auth/phone/login/", {"phone": FRIEND_PHONE, "code": login_code}, format="json")
    assert r.status_code == 200, r.content
    friend.credentials(HTTP_AUTHORIZATION=f"Token {r.json()['token']}")
    with django_capture_on_commit_callbacks(execute=True):
        r = friend.post(f"/api/v1/claims/{gift.claim_token}/accept/", {"address": ADDRESS}, format="json")
    assert r.status_code == 202, r.content
    slot = Slot.objects.get(gift=gift)
    slot.refresh_from_db()

    # The courier scans the parcel up to delivery (signed tracking callbacks).
    waybill = slot.shipment.waybill_no
    with django_capture_on_commit_callbacks(execute=True):
        for status in ("collected", "in_transit", "delivered"):
            gateway_scan(waybill, status)

    # Callbacks that are not the gateway's: unsigned, and signed-looking garbage.
    for url in ("/api/v1/payments/notify/sandbox/", "/api/v1/carriers/notify/sandbox/"):
        r = client.post(url, data='{"out_trade_no": "x", "amount_fen": 1e999}', content_type="application/json")
        assert r.status_code < 500
        r = client.post(url, data="\x00not json", content_type="application/json", HTTP_X_SANDBOX_SIGNATURE="t=1,v1=ab")
        assert r.status_code < 500

    # A bulk list: personal links by SMS and e-mail, a code to the named phone, a wrong code, a resend.
    with django_capture_on_commit_callbacks(execute=True):
        r = alice.post(
            "/api/v1/bulk-orders/",
            {"sku_id": sku.pk, "csv": f"姓名,手机号或邮箱,备注\n鲍勃,{BULK_PHONE},老客户\n卡罗,carol@example.com,\n"},
            format="json",
        )
        assert r.status_code in (201, 202), r.content
        order_id = r.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        r = alice.post(f"/api/v1/bulk-orders/{order_id}/checkout/")
        assert r.status_code in (200, 201), r.content
        bulk_gift = Gift.objects.get(pk=r.json()["id"])
        gateway_pay(out_trade_no=bulk_gift.payment.out_trade_no)
    rows = list(BulkRecipient.objects.filter(slot__gift=bulk_gift))
    row = next(r for r in rows if r.contact == BULK_PHONE)
    bob = api_for(recipient)
    base = f"/api/v1/bulk-claims/{row.token}"
    assert bob.get(f"{base}/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert bob.post(f"{base}/code/").status_code == 202
    bulk_code = _code_for(BULK_PHONE, "gift_code")
    assert bob.post(f"{base}/verify/", {"code": _wrong(bulk_code)}, format="json").status_code == 400
    assert bob.post(f"{base}/verify/", {"code": bulk_code}, format="json").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert bob.post(f"{base}/accept/", {"address": ADDRESS}, format="json").status_code == 202
    other_row = next(r for r in rows if r.pk != row.pk)
    BulkRecipient.objects.filter(pk=other_row.pk).update(link_sent_at=None)  # due for a resend
    with django_capture_on_commit_callbacks(execute=True):
        r = alice.post(f"/api/v1/gifts/{bulk_gift.pk}/slots/{other_row.slot_id}/resend/")
    assert r.status_code < 300, r.content

    # What must not be in any line.
    secrets = {
        "claim token": [g.claim_token for g in Gift.objects.all()],
        "bulk link token": [r.token for r in BulkRecipient.objects.all()],
        "sign-in code": [m["params"]["code"] for m in ConsoleSms.outbox if "code" in m["params"]],
        "API token": list(Token.objects.values_list("key", flat=True)),
        "recipient's name or street": [ADDRESS["detail"], ADDRESS["name"], "科技园南路"],
        "key": [
            settings.SECRET_KEY,
            *settings.PII_ENCRYPTION_KEYS,
            settings.SANDBOX_PAYMENT_SECRET,
            settings.SANDBOX_CARRIER_SECRET,
        ],
    }
    assert secrets["sign-in code"] and secrets["bulk link token"] and len(mail.outbox) >= 1
    lines = every_log_line()
    assert len(lines) > 30  # the journeys were logged at all
    found = []
    for line in lines:
        for kind, values in secrets.items():
            for value in values:
                if value and value in line:
                    found.append(f"{kind} {value[:4]}… in: {line[:300]}")
        if PHONE_NUMBER.search(line):
            found.append(f"phone number in: {line[:300]}")
    assert found == [], "\n".join(found)
