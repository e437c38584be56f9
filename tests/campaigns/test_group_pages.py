"""What a sender is shown for lotteries and bulk gifts: the right link to share (or none), and the
group pages in English."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from campaigns.models import BulkOrder
from campaigns.services.bulk import bulk_checkout, bulk_order_create
from campaigns.services.lottery import lottery_create
from gifts.models import Gift
from tests.conftest import api_for, pay

pytestmark = pytest.mark.django_db

EN_COOKIE = {settings.LANGUAGE_COOKIE_NAME: "en"}


@pytest.fixture
def paid_bulk(django_capture_on_commit_callbacks, sender, sku) -> Gift:
    with django_capture_on_commit_callbacks(execute=True):
        order = bulk_order_create(sender=sender, sku_id=sku.pk, csv_text="陈静,13700137001,\n赵磊,zl@example.com,\n")
    order.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        gift = bulk_checkout(order=order, sender=sender)
        pay(gift)
    gift.refresh_from_db()
    return gift


@pytest.fixture
def paid_lottery(django_capture_on_commit_callbacks, sender, sku) -> Gift:
    with django_capture_on_commit_callbacks(execute=True):
        gift = pay(lottery_create(sender=sender, sku_id=sku.pk, winners=2, draw_at=timezone.now() + timedelta(hours=1)))
    return gift


def test_a_bulk_gift_has_no_shared_claim_url_in_the_api(paid_bulk, sender):
    assert paid_bulk.status == "sent"
    body = api_for(sender).get(f"/api/v1/gifts/{paid_bulk.pk}/").json()
    assert body["claim_url"] is None


def test_a_lottery_claim_url_is_the_lottery_page(paid_lottery, sender):
    body = api_for(sender).get(f"/api/v1/gifts/{paid_lottery.pk}/").json()
    assert body["claim_url"].endswith(f"/l/{paid_lottery.claim_token}/")
    assert client_ok(body["claim_url"])


def client_ok(url: str) -> bool:
    from django.test import Client

    path = url.split("://", 1)[-1].split("/", 1)[1]
    return Client().get("/" + path).status_code == 200


def test_a_bulk_gift_card_page_leads_to_the_list_not_to_a_dead_link(client, paid_bulk, sender):
    client.force_login(sender)
    order = BulkOrder.objects.get(gift=paid_bulk)
    response = client.get(f"/gifts/{paid_bulk.pk}/card/")
    assert response.status_code == 302 and response.url == f"/bulk/{order.pk}/"
    detail = client.get(f"/gifts/{paid_bulk.pk}/").content.decode()
    assert f"/gifts/{paid_bulk.pk}/card/" not in detail and f"/gifts/{paid_bulk.pk}/tracker/" in detail
    assert client.get(f"/gifts/{paid_bulk.pk}/qr.svg").status_code == 404


def test_the_lottery_page_and_the_tracker_are_translated(client, paid_lottery, sender, recipient):
    client.force_login(recipient)
    client.cookies.load(EN_COOKIE)
    body = client.get(f"/l/{paid_lottery.claim_token}/").content.decode()
    assert "Enter the lottery" in body and "参加抽奖" not in body
    client.force_login(sender)
    body = client.get(f"/gifts/{paid_lottery.pk}/tracker/").content.decode()
    assert "Export CSV" in body and "导出 CSV" not in body


def test_a_verified_bulk_recipient_gets_the_same_cascading_region_selects_as_the_claim_page(
    client, paid_bulk, recipient, django_capture_on_commit_callbacks
):

    from campaigns.models import BulkRecipient
    from campaigns.services.bulk import bulk_code_send, bulk_code_verify
    from giftshop.sms import ConsoleSms

    row = BulkRecipient.objects.get(order__gift=paid_bulk, contact_kind="phone")
    client.force_login(recipient)
    assert 'data-test="send-code"' in client.get(row.get_absolute_url()).content.decode()
    ConsoleSms.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        bulk_code_send(row=row, user=recipient)
    code = ConsoleSms.outbox[-1]["params"]["code"]
    bulk_code_verify(row=row, user=recipient, code=code)
    body = client.get(row.get_absolute_url()).content.decode()
    assert '<select name="province" id="id_province"' in body and '<select name="city" id="id_city"' in body
    assert body.count("js/address-form.js") == 1 and 'data-regions-url="/api/v1/regions/"' in body
