"""Bulk gifts from a recipient list (gifts/services/bulk.py): a per-row report before payment, one
payment for all, personal links bound to the named person by a one-time code, reminders, resends."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from campaigns.models import BulkOrder, BulkRecipient
from campaigns.services.bulk import bulk_checkout, bulk_order_create, bulk_rows_check_chunk
from gifts.models import Gift, Slot
from gifts.services.expiry import slots_remind_before_expiry
from giftshop.sms import ConsoleSms
from payments.models import Payment
from tests.conftest import ADDRESS, api_for, pay
from tests.factories import SkuFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sms_outbox():
    ConsoleSms.outbox.clear()
    yield ConsoleSms.outbox
    ConsoleSms.outbox.clear()


@pytest.fixture
def big_sku(db):
    return SkuFactory(stock=10_000, price_fen=1000, original_price_fen=1200)


def _phone(i: int) -> str:
    return f"139{i:08d}"


def _list_with_bad_rows(n: int) -> tuple[str, dict[int, str]]:
    """A CSV of n data rows after a header; returns it and {line number: expected reason} for the 20 bad rows."""
    lines = ["姓名,手机号或邮箱,备注"]
    bad: dict[int, str] = {}
    for i in range(n):
        line = i + 2  # line 1 is the header
        name, contact, note = f"员工{i}", _phone(i), f"部门{i % 7}"
        if i % 250 == 17 and len(bad) < 20:
            kind = len(bad) % 5
            if kind == 0:
                contact, reason = "12345", "手机号或邮箱格式不对"
            elif kind == 1:
                name, reason = "", "缺少姓名"
            elif kind == 2:
                contact, reason = "not-an-email@", "手机号或邮箱格式不对"
            elif kind == 3:
                contact, reason = _phone(1), "与第 3 行的联系方式重复"
            else:
                note, reason = "长" * 101, "备注超过 100 字"
            bad[line] = reason
        if i % 3 == 0 and line not in bad:
            contact = f"staff{i}@example.com"
        lines.append(f"{name},{contact},{note}")
    return "\n".join(lines) + "\n", bad


def _upload(client, sku, csv_text, **extra):
    return client.post("/api/v1/bulk-orders/", {"sku_id": sku.pk, "csv": csv_text, **extra}, format="json")


def _paid_bulk(django_capture_on_commit_callbacks, sender, sku, rows: list[str]) -> Gift:
    with django_capture_on_commit_callbacks(execute=True):
        order = bulk_order_create(sender=sender, sku_id=sku.pk, csv_text="\n".join(rows))
    order.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        gift = bulk_checkout(order=order, sender=sender)
    with django_capture_on_commit_callbacks(execute=True):
        pay(gift)
    gift.refresh_from_db()
    return gift


def _code_sent_to(sms_outbox, phone: str) -> str:
    return [m["params"]["code"] for m in sms_outbox if m["phone"] == phone and m["template"] == "gift_code"][-1]


# ----- the list: a per-row report before payment, then one payment -----


def test_a_5000_row_list_with_20_bad_rows_reports_exactly_those_and_the_rest_become_slots_with_one_payment(
    django_capture_on_commit_callbacks, sender, big_sku
):
    csv_text, bad = _list_with_bad_rows(5000)
    assert len(bad) == 20
    alice = api_for(sender)
    with django_capture_on_commit_callbacks(execute=True):
        r = _upload(alice, big_sku, csv_text, message="新春快乐")
    assert r.status_code == 201, r.content
    order_id = r.data["id"]

    r = alice.get(f"/api/v1/bulk-orders/{order_id}/")
    assert r.data["stage"] == "validated"
    assert r.data["total_rows"] == 5000 and r.data["invalid_rows"] == 20 and r.data["valid_rows"] == 4980
    assert {e["row_number"]: e["error"] for e in r.data["errors"]} == bad
    assert not Gift.objects.exists() and not Payment.objects.exists()

    r = alice.post(f"/api/v1/bulk-orders/{order_id}/checkout/")
    assert r.status_code == 201, r.content
    assert r.data["mode"] == "bulk" and r.data["recipients_count"] == 4980
    assert r.data["amount_fen"] == 4980 * big_sku.price_fen
    gift = Gift.objects.get(pk=r.data["id"])
    assert Payment.objects.filter(gift__sender=sender).count() == 1
    assert Slot.objects.filter(gift=gift).count() == 4980
    rows = BulkRecipient.objects.filter(order_id=order_id)
    assert rows.filter(slot__isnull=False).count() == 4980
    assert set(rows.filter(slot__isnull=True).values_list("row_number", flat=True)) == set(bad)
    # Checking out again returns the same gift rather than a second payment.
    assert alice.post(f"/api/v1/bulk-orders/{order_id}/checkout/").data["id"] == gift.pk
    assert Payment.objects.count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        pay(gift)
    order = BulkOrder.objects.get(pk=order_id)
    assert order.stage == "sent" and order.links_sent == 4980
    assert not rows.filter(slot__isnull=False, link_sent_at__isnull=True).exists()


def test_the_progress_endpoint_advances_chunk_by_chunk(
    settings, monkeypatch, django_capture_on_commit_callbacks, sender, big_sku, sms_outbox
):
    settings.BULK_CHUNK_SIZE = 500
    csv_text = "\n".join(f"人{i},{_phone(i)}," for i in range(1200))
    alice = api_for(sender)
    with django_capture_on_commit_callbacks(execute=False):  # no worker yet: step the chunks by hand
        r = _upload(alice, big_sku, csv_text)
    order_id = r.data["id"]
    url = f"/api/v1/bulk-orders/{order_id}/progress/"

    seen = [alice.get(url).data]
    for start in (0, 500, 1000):
        with django_capture_on_commit_callbacks(execute=False):
            assert bulk_rows_check_chunk(order_id=order_id, start=start)
        seen.append(alice.get(url).data)

    assert [p["done"] for p in seen] == [0, 500, 1000, 1200]
    assert [p["percent"] for p in seen] == [0, 41, 83, 100]
    assert [p["stage"] for p in seen] == ["validating"] * 3 + ["validated"]
    # A chunk that already ran changes nothing when its task is delivered again.
    assert not bulk_rows_check_chunk(order_id=order_id, start=500)
    assert BulkRecipient.objects.filter(order_id=order_id).count() == 1200

    order = BulkOrder.objects.get(pk=order_id)
    with django_capture_on_commit_callbacks(execute=True):
        gift = bulk_checkout(order=order, sender=sender)
    from campaigns import tasks
    from campaigns.services.bulk import bulk_links_deliver_chunk

    queued = []  # no worker for the links yet: record the published task and step its chunks by hand
    monkeypatch.setattr(tasks.send_bulk_links, "apply_async", lambda args=(), **kw: queued.append(tuple(args)))
    with django_capture_on_commit_callbacks(execute=True):
        pay(gift)
    assert queued == [(order_id,)]

    sending = [alice.get(url).data]
    while True:
        with django_capture_on_commit_callbacks(execute=True):  # each link is a job of its own, sent on commit
            more = bulk_links_deliver_chunk(order_id=order_id)
        if not more:
            break
        sending.append(alice.get(url).data)
    assert [p["done"] for p in sending] == [0, 500, 1000, 1200]
    assert sending[-1]["stage"] == "sent"
    assert len([m for m in sms_outbox if "/b/" in m["text"]]) == 1200


def test_checkout_before_validation_finishes_is_refused(django_capture_on_commit_callbacks, sender, big_sku):
    with django_capture_on_commit_callbacks(execute=False):
        r = _upload(api_for(sender), big_sku, "张三,13812345678,\n")
    r = api_for(sender).post(f"/api/v1/bulk-orders/{r.data['id']}/checkout/")
    assert r.status_code == 409 and r.data["code"] == "list_not_ready"


def test_a_list_with_no_rows_is_refused(sender, big_sku):
    r = _upload(api_for(sender), big_sku, "姓名,手机号\n\n")
    assert r.status_code == 400 and r.data["code"] == "bad_list"


def test_another_account_cannot_see_a_senders_list(django_capture_on_commit_callbacks, sender, other, big_sku):
    with django_capture_on_commit_callbacks(execute=True):
        r = _upload(api_for(sender), big_sku, "张三,13812345678,\n")
    assert api_for(other).get(f"/api/v1/bulk-orders/{r.data['id']}/").status_code == 404
    assert api_for(other).post(f"/api/v1/bulk-orders/{r.data['id']}/checkout/").status_code == 404


# ----- only the named person claims -----


def test_someone_with_only_the_link_cannot_take_the_named_recipients_gift(
    django_capture_on_commit_callbacks, sender, recipient, other, big_sku, sms_outbox
):
    gift = _paid_bulk(django_capture_on_commit_callbacks, sender, big_sku, ["鲍勃,13900001111,老客户"])
    row = BulkRecipient.objects.get(slot__gift=gift)
    link_texts = [m["text"] for m in sms_outbox if m["phone"] == "13900001111"]
    assert len(link_texts) == 1 and f"/b/{row.token}/" in link_texts[0]
    base = f"/api/v1/bulk-claims/{row.token}"
    carol, bob = api_for(other), api_for(recipient)

    # Carol got hold of the link. The card shows her nothing but a masked contact.
    card = carol.get(f"{base}/")
    assert card.status_code == 200 and card.data["contact_masked"] == "139****1111"
    assert "13900001111" not in card.content.decode()
    r = carol.post(f"{base}/accept/", {"address": ADDRESS}, format="json")
    assert r.status_code == 403 and r.data["code"] == "code_required"
    # Asking for a code sends it to the named phone, not to her.
    with django_capture_on_commit_callbacks(execute=True):
        assert carol.post(f"{base}/code/").status_code == 202
    code = _code_sent_to(sms_outbox, "13900001111")
    wrong = "000000" if code != "000000" else "111111"
    r = carol.post(f"{base}/verify/", {"code": wrong}, format="json")
    assert r.status_code == 400 and r.data["code"] == "bad_code"
    assert Slot.objects.get(gift=gift).recipient_id is None

    # Bob holds the phone: the code binds the gift to his account, and only he can accept it.
    r = bob.post(f"{base}/verify/", {"code": code}, format="json")
    assert r.status_code == 200, r.content
    assert carol.post(f"{base}/verify/", {"code": code}, format="json").data["code"] == "taken_by_other"
    r = carol.post(f"{base}/accept/", {"address": ADDRESS}, format="json")
    assert r.status_code == 403 and r.data["code"] == "not_yours"
    with django_capture_on_commit_callbacks(execute=True):
        r = bob.post(f"{base}/accept/", {"address": ADDRESS}, format="json")
    assert r.status_code == 202, r.content
    slot = Slot.objects.get(gift=gift)
    assert slot.recipient_id == recipient.pk and slot.status == "to_ship"


def test_the_gifts_own_token_opens_nothing_for_a_bulk_gift(
    django_capture_on_commit_callbacks, client, sender, other, big_sku
):
    gift = _paid_bulk(django_capture_on_commit_callbacks, sender, big_sku, ["鲍勃,13900001111,"])
    r = api_for(other).post(f"/api/v1/claims/{gift.claim_token}/accept/", {"address": ADDRESS}, format="json")
    assert r.status_code == 403 and r.data["code"] == "code_required"
    client.force_login(other)
    assert client.get(f"/c/{gift.claim_token}/").status_code == 404


def test_too_many_wrong_codes_void_the_code(django_capture_on_commit_callbacks, sender, other, big_sku, sms_outbox):
    gift = _paid_bulk(django_capture_on_commit_callbacks, sender, big_sku, ["鲍勃,13900001111,"])
    row = BulkRecipient.objects.get(slot__gift=gift)
    carol = api_for(other)
    with django_capture_on_commit_callbacks(execute=True):
        carol.post(f"/api/v1/bulk-claims/{row.token}/code/")
    code = _code_sent_to(sms_outbox, "13900001111")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert carol.post(f"/api/v1/bulk-claims/{row.token}/verify/", {"code": wrong}, format="json").status_code == 400
    r = carol.post(f"/api/v1/bulk-claims/{row.token}/verify/", {"code": code}, format="json")
    assert r.status_code == 429 and r.data["code"] == "too_many_attempts"
    assert Slot.objects.get(gift=gift).recipient_id is None


def test_wrong_codes_count_per_link_so_a_new_code_buys_no_new_guesses(
    django_capture_on_commit_callbacks, sender, other, big_sku, sms_outbox
):
    """Asking for a fresh code every minute used to reset the counter: five more guesses each time.
    Now the count is the link's; only the sender resending the link starts it again."""
    gift = _paid_bulk(django_capture_on_commit_callbacks, sender, big_sku, ["鲍勃,13900001111,"])
    row = BulkRecipient.objects.get(slot__gift=gift)
    carol = api_for(other)
    verify = f"/api/v1/bulk-claims/{row.token}/verify/"
    with django_capture_on_commit_callbacks(execute=True):
        carol.post(f"/api/v1/bulk-claims/{row.token}/code/")
    for _ in range(3):
        assert carol.post(verify, {"code": "000000x"}, format="json").status_code == 400
    BulkRecipient.objects.filter(pk=row.pk).update(code_sent_at=timezone.now() - timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert carol.post(f"/api/v1/bulk-claims/{row.token}/code/").status_code == 202
    code = _code_sent_to(sms_outbox, "13900001111")
    wrong = "000000" if code != "000000" else "111111"
    assert [carol.post(verify, {"code": wrong}, format="json").status_code for _ in range(3)] == [400, 400, 429]
    r = carol.post(verify, {"code": code}, format="json")
    assert r.status_code == 429 and r.data["code"] == "too_many_attempts"  # even the right code now

    # The sender resends the link: the named person starts again with a new code.
    slot = Slot.objects.get(gift=gift)
    BulkRecipient.objects.filter(pk=row.pk).update(link_sent_at=timezone.now() - timedelta(minutes=61))
    with django_capture_on_commit_callbacks(execute=True):
        assert api_for(sender).post(f"/api/v1/gifts/{gift.pk}/slots/{slot.pk}/resend/").status_code == 200
    assert carol.post(verify, {"code": code}, format="json").data["code"] == "code_expired"  # the old code is void
    BulkRecipient.objects.filter(pk=row.pk).update(code_sent_at=timezone.now() - timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert carol.post(f"/api/v1/bulk-claims/{row.token}/code/").status_code == 202
    assert carol.post(verify, {"code": _code_sent_to(sms_outbox, "13900001111")}, format="json").status_code == 200


def test_a_new_code_cannot_be_requested_within_a_minute(django_capture_on_commit_callbacks, sender, other, big_sku):
    gift = _paid_bulk(django_capture_on_commit_callbacks, sender, big_sku, ["鲍勃,bob@example.com,"])
    row = BulkRecipient.objects.get(slot__gift=gift)
    carol = api_for(other)
    with django_capture_on_commit_callbacks(execute=True):
        assert carol.post(f"/api/v1/bulk-claims/{row.token}/code/").status_code == 202
    r = carol.post(f"/api/v1/bulk-claims/{row.token}/code/")
    assert r.status_code == 429 and r.data["code"] == "too_soon"
    assert [m.to for m in mail.outbox if "验证码" in m.subject] == [["bob@example.com"]]


# ----- reminders and resends -----


def test_the_sender_can_resend_a_link_once_an_hour(django_capture_on_commit_callbacks, sender, big_sku, sms_outbox):
    gift = _paid_bulk(django_capture_on_commit_callbacks, sender, big_sku, ["鲍勃,13900001111,", "凯罗,13900002222,"])
    slot = Slot.objects.get(gift=gift, number=1)
    url = f"/api/v1/gifts/{gift.pk}/slots/{slot.pk}/resend/"
    alice = api_for(sender)
    sent_before = len(sms_outbox)

    r = alice.post(url)
    assert r.status_code == 429 and r.data["code"] == "too_soon"
    BulkRecipient.objects.filter(slot=slot).update(link_sent_at=timezone.now() - timedelta(minutes=61))
    with django_capture_on_commit_callbacks(execute=True):
        r = alice.post(url)
    assert r.status_code == 200, r.content
    assert "13900001111" not in r.content.decode() and r.data["contact"] == "139****1111"
    with django_capture_on_commit_callbacks(execute=True):
        assert alice.post(url).status_code == 429
    assert [m["phone"] for m in sms_outbox[sent_before:]] == ["13900001111"]


def test_unverified_recipients_are_reminded_once_on_their_phone_or_email_before_expiry(
    django_capture_on_commit_callbacks, sender, big_sku, sms_outbox
):
    gift = _paid_bulk(django_capture_on_commit_callbacks, sender, big_sku, ["鲍勃,13900001111,", "凯罗,carol@x.cn,"])
    Slot.objects.filter(gift=gift).update(expires_at=timezone.now() + timedelta(hours=1))
    sms_outbox.clear()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert slots_remind_before_expiry(within=timedelta(hours=3)) == 2
        slots_remind_before_expiry(within=timedelta(hours=3))

    assert [(m["phone"], m["template"]) for m in sms_outbox] == [("13900001111", "gift_reminder")]
    assert "即将过期" in sms_outbox[0]["text"]
    assert [m.to for m in mail.outbox] == [["carol@x.cn"]]


# ----- pages -----


def test_the_upload_page_accepts_a_gbk_csv_and_shows_the_report(
    django_capture_on_commit_callbacks, client, sender, big_sku
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(sender)
    data = "张三,13812345678,财务部\n李四,bad,\n".encode("gb18030")
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            f"/products/{big_sku.product_id}/bulk/",
            {"sku_id": big_sku.pk, "quantity": 1, "file": SimpleUploadedFile("名单.csv", data, "text/csv")},
        )
    assert r.status_code == 302
    r = client.get(r["Location"])
    assert r.status_code == 200
    order = BulkOrder.objects.get(sender=sender)
    assert order.total_rows == 2
    assert BulkRecipient.objects.get(order=order, row_number=1).name == "张三"
    page = r.content.decode()
    assert "手机号或邮箱格式不对" in page and "李四" in page


def test_the_personal_link_page_asks_for_the_code_before_the_address(
    django_capture_on_commit_callbacks, client, sender, big_sku
):
    gift = _paid_bulk(django_capture_on_commit_callbacks, sender, big_sku, ["鲍勃,13900001111,"])
    row = BulkRecipient.objects.get(slot__gift=gift)
    client.force_login(UserFactory(username="dave"))
    page = client.get(f"/b/{row.token}/").content.decode()
    assert 'data-state="verify"' in page and "139****1111" in page and "13900001111" not in page


def test_the_personal_link_page_counts_against_the_api_s_claim_limits(
    django_capture_on_commit_callbacks, client, sender, big_sku, monkeypatch
):
    """Asking for codes (or accepting, declining) on the page is no way around the API's limits."""
    from gifts.throttles import ClaimIpThrottle, ClaimThrottle

    for cls in (ClaimThrottle, ClaimIpThrottle):
        monkeypatch.setattr(cls, "THROTTLE_RATES", {"claim": "1/min", "claim_ip": "1000/min"})
    gift = _paid_bulk(django_capture_on_commit_callbacks, sender, big_sku, ["鲍勃,13900001111,"])
    row = BulkRecipient.objects.get(slot__gift=gift)
    client.force_login(UserFactory(username="dave"))
    assert client.post(f"/b/{row.token}/", {"action": "send_code"}).status_code == 302
    refused = client.post(f"/b/{row.token}/", {"action": "decline"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "操作太频繁，请" in refused.content.decode()
    assert Slot.objects.get(pk=row.slot_id).status == "unclaimed"
