"""The sender's tracker (gifts/services/tracker.py): per recipient progress with counts and a CSV
export, never an address or a phone the sender did not type, and typed contacts only masked."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import BulkRecipient
from campaigns.services.bulk import bulk_checkout, bulk_code_send, bulk_code_verify, bulk_open, bulk_order_create
from campaigns.services.lottery import lottery_create, lottery_enter, lottery_pick_winners
from gifts.models import Gift, Slot
from gifts.services.claim import slot_accept, slot_decline
from giftshop.sms import ConsoleSms
from sandbox.carrier import gateway_scan
from tests.conftest import ADDRESS, api_for, pay
from tests.factories import SkuFactory, UserFactory

pytestmark = pytest.mark.django_db

ROWS = ["鲍勃,13900001111,市场部", "凯罗,13900002222,财务部", "戴夫,13900003333,", "伊芙,eve@example.com,老客户"]


@pytest.fixture
def bulk_gift(django_capture_on_commit_callbacks, sender, address):
    """Four named recipients: one delivered, one declined (refunded), one opened, one only sent."""
    ConsoleSms.outbox.clear()
    sku = SkuFactory(stock=100, price_fen=5000)
    with django_capture_on_commit_callbacks(execute=True):
        order = bulk_order_create(sender=sender, sku_id=sku.pk, csv_text="\n".join(ROWS))
    order.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        gift = bulk_checkout(order=order, sender=sender)
    with django_capture_on_commit_callbacks(execute=True):
        pay(gift)
    gift.refresh_from_db()
    rows = {r.name: r for r in BulkRecipient.objects.filter(slot__gift=gift).select_related("slot__gift__sender")}

    def claim_as(name, username):
        user = UserFactory(username=username)
        row = rows[name]
        with django_capture_on_commit_callbacks(execute=True):
            bulk_code_send(row=row, user=user)
        code = ConsoleSms.outbox[-1]["params"]["code"]
        bulk_code_verify(row=row, user=user, code=code)
        return user, row

    bob, row = claim_as("鲍勃", "bob")
    with django_capture_on_commit_callbacks(execute=True):
        slot_accept(gift=gift, user=bob, address=address, slot_token=row.token)
    waybill = Slot.objects.get(pk=row.slot_id).shipment.waybill_no
    gateway_scan(waybill, "collected")
    gateway_scan(waybill, "delivered")
    carol, row = claim_as("凯罗", "carol")
    with django_capture_on_commit_callbacks(execute=True):
        slot_decline(gift=gift, user=carol, slot_token=row.token)
    bulk_open(row=BulkRecipient.objects.select_related("slot").get(pk=rows["戴夫"].pk))
    return gift


def test_the_tracker_counts_every_stage_per_recipient(bulk_gift, sender):
    r = api_for(sender).get(f"/api/v1/gifts/{bulk_gift.pk}/tracker/")
    assert r.status_code == 200, r.content
    counts = {k: v for k, v in r.data["counts"].items() if v}
    assert counts == {"delivered": 1, "refunded": 1, "opened": 1, "sent": 1}
    assert r.data["funnel"] == {"sent": 4, "opened": 3, "accepted": 1, "shipped": 1, "delivered": 1}
    by_name = {row["recipient"]: row for row in r.data["rows"]}
    assert by_name["鲍勃"]["stage"] == "delivered" and by_name["鲍勃"]["note"] == "市场部"
    assert by_name["凯罗"]["stage"] == "refunded"
    assert by_name["戴夫"]["stage"] == "opened" and by_name["戴夫"]["can_resend"] is True
    assert by_name["伊芙"]["stage"] == "sent" and by_name["伊芙"]["contact"] == "e***@example.com"


def test_the_tracker_never_shows_an_address_or_an_unmasked_phone(bulk_gift, sender, client):
    alice = api_for(sender)
    client.force_login(sender)
    bodies = [
        alice.get(f"/api/v1/gifts/{bulk_gift.pk}/tracker/").content.decode(),
        b"".join(alice.get(f"/api/v1/gifts/{bulk_gift.pk}/tracker.csv").streaming_content).decode(),
        client.get(f"/gifts/{bulk_gift.pk}/tracker/").content.decode(),
        b"".join(client.get(f"/gifts/{bulk_gift.pk}/tracker.csv").streaming_content).decode(),
    ]
    for body in bodies:
        assert ADDRESS["phone"] not in body and ADDRESS["detail"] not in body and ADDRESS["name"] not in body
        assert "13900001111" not in body and "eve@example.com" not in body
        assert "139****1111" in body and "鲍勃" in body and "市场部" in body


def test_the_csv_export_has_a_line_per_recipient(bulk_gift, sender):
    r = api_for(sender).get(f"/api/v1/gifts/{bulk_gift.pk}/tracker.csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode("utf-8-sig"))))
    assert lines[0][:2] == ["#", "收礼人"] and lines[0][5:7] == ["进度代码", "进度说明"] and len(lines) == 1 + 4
    assert {line[1]: line[5] for line in lines[1:]} == {
        "鲍勃": "delivered",
        "凯罗": "refunded",
        "戴夫": "opened",
        "伊芙": "sent",
    }


def test_only_the_sender_sees_the_tracker(bulk_gift, other, client):
    assert api_for(other).get(f"/api/v1/gifts/{bulk_gift.pk}/tracker/").status_code == 404
    assert api_for(other).get(f"/api/v1/gifts/{bulk_gift.pk}/tracker.csv").status_code == 404
    client.force_login(other)
    assert client.get(f"/gifts/{bulk_gift.pk}/tracker/").status_code == 404


def test_the_tracker_page_reads_a_bounded_number_of_queries(bulk_gift, sender, client, django_assert_max_num_queries):
    client.force_login(sender)
    with django_assert_max_num_queries(12):
        r = client.get(f"/gifts/{bulk_gift.pk}/tracker/")
    assert r.status_code == 200 and r.content.decode().count('data-test="tracker-row"') == 4


def test_a_lottery_tracker_shows_winners_and_the_refunded_units(
    django_capture_on_commit_callbacks, sender, sku, recipient
):
    with django_capture_on_commit_callbacks(execute=True):
        gift = lottery_create(sender=sender, sku_id=sku.pk, winners=3, draw_at=timezone.now() + timedelta(hours=1))
        pay(gift)
    gift.refresh_from_db()
    lottery_enter(gift=gift, user=recipient)
    Gift.objects.filter(pk=gift.pk).update(draw_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        lottery_pick_winners(gift_id=gift.pk)

    r = api_for(sender).get(f"/api/v1/gifts/{gift.pk}/tracker/")
    assert r.data["entrants"] == 1
    assert {k: v for k, v in r.data["counts"].items() if v} == {"sent": 1, "refunded": 2}
    assert [row["recipient"] for row in r.data["rows"]] == ["bob", "", ""]


def test_a_single_gift_tracker_names_the_friend_and_never_the_address(
    make_gift, django_capture_on_commit_callbacks, sender, recipient, address
):
    gift = make_gift(recipient_username="bob")
    with django_capture_on_commit_callbacks(execute=True):
        slot_accept(gift=gift, user=recipient, address=address)
    r = api_for(sender).get(f"/api/v1/gifts/{gift.pk}/tracker/")
    assert r.data["rows"][0]["recipient"] == "bob" and r.data["rows"][0]["stage"] == "accepted"
    assert ADDRESS["phone"] not in r.content.decode()
