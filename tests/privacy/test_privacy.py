"""Recipients' personal data: rotation, access log, retention, export and deletion, leak guards."""

import json
import logging
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from gifts.models import SavedAddress, ShippingAddress, Slot
from gifts.services.claim import address_save, slot_accept
from gifts.states import slot_transition
from privacy.models import PiiAccessLog
from privacy.services import account_delete, account_export, pii_purge_due
from tests.conftest import ADDRESS, api_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

OLD_KEY = "dGVzdC1vbmx5LWdpZnRzaG9wLXBpaS1rZXktMzJieXQ="


@pytest.fixture
def accepted(make_gift, recipient, address, django_capture_on_commit_callbacks):
    gift = make_gift()
    with django_capture_on_commit_callbacks(execute=True):
        slot = slot_accept(gift=gift, user=recipient, address=address, save_address=True)
    slot.refresh_from_db()
    return slot


def _raw(table: str, column: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table}")  # noqa: S608 (fixed names)
        return [row[0] for row in cursor.fetchall()]


def test_addresses_are_unreadable_in_the_table_without_the_key(accepted):
    raw = _raw("gifts_shippingaddress", "phone") + _raw("gifts_shippingaddress", "detail")
    assert raw and all(ADDRESS["phone"] not in v and ADDRESS["detail"] not in v for v in raw)
    assert Fernet(OLD_KEY).decrypt(raw[0].encode()).decode() in (ADDRESS["phone"], ADDRESS["detail"])


def test_rotation_leaves_every_address_readable_and_none_under_the_old_key(
    accepted, settings, django_capture_on_commit_callbacks
):
    new_key = Fernet.generate_key().decode()
    settings.PII_ENCRYPTION_KEYS = [new_key, OLD_KEY]
    with django_capture_on_commit_callbacks(execute=True):
        call_command("rotate_pii_keys", "--timeout", "5", stdout=open("/dev/null", "w"))
    settings.PII_ENCRYPTION_KEYS = [new_key]  # the old key is gone
    assert ShippingAddress.objects.get(slot=accepted).phone == ADDRESS["phone"]
    assert SavedAddress.objects.get().detail == ADDRESS["detail"]
    for table in ("gifts_shippingaddress", "gifts_savedaddress"):
        for token in _raw(table, "name") + _raw(table, "phone") + _raw(table, "detail"):
            with pytest.raises(InvalidToken):
                Fernet(OLD_KEY).decrypt(token.encode())


def test_every_full_address_view_in_the_api_writes_one_log_row(accepted, merchant):
    client = api_for(merchant)
    assert client.get("/api/v1/merchant/orders/").status_code == 200
    rows = sorted(PiiAccessLog.objects.values_list("channel", "user__username", "slot_id"))
    # the dispatch worker handed it to the courier once; the merchant's API read once
    assert rows == [("api", "merchant", accepted.pk), ("carrier", None, accepted.pk)]


def test_every_full_address_view_in_the_merchant_site_writes_one_log_row(accepted, merchant, client):
    client.force_login(merchant)
    client.get(f"/merchant/gifts/slot/{accepted.pk}/change/")
    client.get(f"/merchant/gifts/slot/{accepted.pk}/waybill/")
    channels = sorted(PiiAccessLog.objects.filter(slot=accepted, user=merchant).values_list("channel", flat=True))
    assert channels == ["admin_view", "waybill_print"]


def test_purge_after_the_window_erases_personal_fields_and_keeps_the_books(accepted, settings):
    slot_transition(accepted, "shipped")
    slot_transition(accepted, "delivered")
    assert pii_purge_due() == 0  # not yet due
    later = timezone.now() + timedelta(days=settings.PII_RETENTION_DAYS + 1)
    assert pii_purge_due(now=later) == 1
    address = ShippingAddress.objects.get(slot=accepted)
    assert (address.name, address.phone, address.detail) == ("", "", "")
    assert address.erased_at is not None
    slot = Slot.objects.select_related("gift").get(pk=accepted.pk)
    assert slot.status == "delivered" and slot.gift.amount_fen == slot.gift.unit_price_fen


def test_a_recipient_exports_then_deletes_and_only_an_undelivered_parcel_keeps_an_address(
    make_gift, recipient, address, django_capture_on_commit_callbacks
):
    in_transit, delivered = make_gift(), make_gift()
    with django_capture_on_commit_callbacks(execute=True):
        a = slot_accept(gift=in_transit, user=recipient, address=address)
        b = slot_accept(gift=delivered, user=recipient, address=address)
    address_save(user=recipient, address=address)
    slot_transition(b.pk, "shipped")
    slot_transition(b.pk, "delivered")

    exported = account_export(user=recipient)
    assert json.dumps(exported, ensure_ascii=False).count(ADDRESS["detail"]) == 3
    account_delete(user=recipient)

    assert not SavedAddress.objects.exists()
    assert ShippingAddress.objects.get(slot=b).detail == ""
    assert ShippingAddress.objects.get(slot=a).detail == ADDRESS["detail"]  # the parcel still needs it
    recipient.refresh_from_db()
    assert not recipient.is_active and ADDRESS["name"] not in recipient.username
    slot_transition(a.pk, "shipped")
    slot_transition(a.pk, "delivered")
    assert pii_purge_due() == 1  # erased as soon as it is delivered
    assert ShippingAddress.objects.get(slot=a).detail == ""


def test_account_data_page_downloads_json_and_deletes(client, recipient, address):
    address_save(user=recipient, address=address)
    client.force_login(recipient)
    response = client.get("/account/data/?download=1")
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content)["saved_addresses"][0]["phone"] == ADDRESS["phone"]
    client.post("/account/data/", {"action": "delete", "confirm": recipient.username})
    recipient.refresh_from_db()
    assert not recipient.is_active


def test_no_sender_facing_page_log_email_or_task_argument_carries_the_address(
    client, make_gift, recipient, address, caplog, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
):
    from celery import app as celery_app

    sent_args = []
    original = celery_app.task.Task.apply_async

    def spy(self, args=None, kwargs=None, **options):
        sent_args.append(repr((self.name, args, kwargs)))
        return original(self, args=args, kwargs=kwargs, **options)

    monkeypatch.setattr(celery_app.task.Task, "apply_async", spy)
    caplog.set_level(logging.DEBUG)
    gift = make_gift(message="新年快乐")
    with django_capture_on_commit_callbacks(execute=True):
        slot_accept(gift=gift, user=recipient, address=address)
    sender = gift.sender
    client.force_login(sender)
    pages = [f"/gifts/{gift.pk}/", f"/gifts/{gift.pk}/card/", "/gifts/", "/inbox/", gift.claim_path()]
    bodies = [client.get(p).content.decode() for p in pages]
    sender_api = api_for(sender)
    bodies += [
        sender_api.get(f"/api/v1/gifts/{gift.pk}/").content.decode(),
        sender_api.get("/api/v1/gifts/").content.decode(),
    ]
    haystacks = {
        "sender pages and API": "\n".join(bodies),
        "logs": caplog.text,
        "emails": "\n".join(m.subject + m.body for m in mailoutbox),
        "task arguments": "\n".join(sent_args),
    }
    assert sent_args, "the spy saw no task"
    for where, text in haystacks.items():
        for secret in (ADDRESS["phone"], ADDRESS["detail"], ADDRESS["name"]):
            assert secret not in text, f"{secret} leaked into {where}"


def test_other_users_cannot_read_someone_elses_saved_addresses(recipient, address):
    address_save(user=recipient, address=address)
    assert api_for(UserFactory(username="mallory")).get("/api/v1/addresses/").json() == []
