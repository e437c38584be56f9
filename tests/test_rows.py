"""giftshop.rows: the hot path's statements, composed once, on PostgreSQL and on the demo's SQLite."""

import logging

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from imagekit.specs.sourcegroups import ModelSignalRouter

from gifts.models import Gift, GiftEvent, ShippingAddress, Slot, SlotStatus
from giftshop.rows import get_row, write_rows
from outbox.jobs import enqueue_along
from outbox.models import Job

ADDRESS = {
    "name": "李雷",
    "phone": "13800000009",
    "province": "北京市",
    "city": "北京市",
    "district": "朝阳区",
    "detail": "建国路 1 号",
}


def test_the_models_written_this_way_have_no_signal_receivers():
    """write_rows sends no model signals: a receiver added to one of these would be skipped. (The
    image library listens to every model's saves and looks for its image fields: these have none.)"""
    image_router = ModelSignalRouter.post_save_receiver
    for model in (Slot, GiftEvent, ShippingAddress, Job):
        assert not pre_save.has_listeners(model), model
        receivers = post_save._live_receivers(model)[0]
        assert all(getattr(r, "__func__", None) is image_router for r in receivers), (model, receivers)
        for receiver in receivers:
            assert not receiver.__self__.get_source_fields(model()), model


@pytest.mark.django_db
def test_get_row_reads_what_the_orm_reads(make_gift):
    gift = make_gift(message="生日快乐")
    ours = get_row(Gift, {"claim_token": gift.claim_token})
    orm = Gift.objects.get(claim_token=gift.claim_token)
    for field in Gift._meta.concrete_fields:
        assert getattr(ours, field.attname) == getattr(orm, field.attname), field.name
    assert ours.expires_at.tzinfo is not None  # converted as a query converts it
    assert not ours._state.adding
    assert get_row(Gift, {"claim_token": "no-such-token"}) is None


@pytest.mark.django_db(transaction=True)
def test_the_accepts_writes_are_one_statement_with_what_it_read_before_them(make_gift, recipient):
    gift = make_gift()
    with transaction.atomic():
        slot = get_row(Slot, {"gift_id": gift.pk, "number": 1}, for_update=True)
        slot.status, slot.recipient = SlotStatus.ACCEPTED, recipient
        address = ShippingAddress(slot=slot, **ADDRESS)
        event = GiftEvent(gift_id=gift.pk, slot=slot, kind=GiftEvent.Kind.SLOT_STATUS, data={"k": [1]})
        job = Job(task="gifts.tasks.process_claim", args=[slot.pk], due_at=timezone.now())
        status_before = ("SELECT status FROM gifts_slot WHERE id = %s", [slot.pk])
        with CaptureQueriesContext(connection) as queries:
            seen = write_rows(update=(slot, ["status", "recipient"]), inserts=(address, event, job), then=status_before)
    written = [q for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert len(written) == 1 and written[0]["sql"].startswith("WITH")
    assert seen == (SlotStatus.UNCLAIMED,)  # read before the move, in the same statement
    slot.refresh_from_db()
    assert (slot.status, slot.recipient_id) == (SlotStatus.ACCEPTED, recipient.pk)
    assert ShippingAddress.objects.get(pk=address.pk).full() == "李雷 13800000009 北京市北京市朝阳区建国路 1 号"
    with connection.cursor() as cursor:  # stored encrypted, as the ORM's save stores it
        cursor.execute("SELECT phone, detail FROM gifts_shippingaddress WHERE id = %s", [address.pk])
        assert all("13800000009" not in value and "建国路" not in value for value in cursor.fetchone())
    assert GiftEvent.objects.get(pk=event.pk).data == {"k": [1]}
    assert Job.objects.get(pk=job.pk).args == [slot.pk]
    assert not any(o._state.adding for o in (address, event, job))


@pytest.mark.django_db(transaction=True)
def test_an_update_that_finds_no_row_raises_and_the_transaction_writes_nothing(make_gift):
    gift = make_gift()
    slot = gift.slots.get()
    gone = Slot(pk=slot.pk + 1000, gift=gift, sku_id=slot.sku_id, number=9, status=SlotStatus.ACCEPTED)
    events = GiftEvent.objects.count()
    with pytest.raises(DatabaseError), transaction.atomic():
        write_rows(
            update=(gone, ["status"]),
            inserts=(GiftEvent(gift_id=gift.pk, slot=slot, kind=GiftEvent.Kind.SLOT_STATUS),),
        )
    assert GiftEvent.objects.count() == events


@pytest.mark.django_db(transaction=True)
def test_a_job_enqueued_along_a_statement_that_did_not_write_it_is_not_published(caplog):
    with caplog.at_level(logging.ERROR, logger="outbox.jobs"), transaction.atomic():
        job = enqueue_along("gifts.tasks.process_claim", 1)
    assert job.pk is None and not Job.objects.exists()
    assert "did not write it" in caplog.text
