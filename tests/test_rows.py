"""giftshop.rows: the hot path's statements, composed once, on PostgreSQL and on the demo's SQLite."""

import logging

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models.signals import post_save, pre_save
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from imagekit.specs.sourcegroups import ModelSignalRouter

from gifts import states
from gifts.models import Gift, GiftEvent, ShippingAddress, Slot, SlotStatus
from giftshop.errors import AppError
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
    assert (
        ShippingAddress.objects.get(pk=address.pk).full() == "李雷 13800000009 北京市朝阳区建国路 1 号"
    )  # a municipality is named once
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


@pytest.mark.django_db(transaction=True)
def test_the_status_check_read_with_the_move_counts_what_is_left_after_it(make_gift, address, monkeypatch):
    """The check runs before the move, in the same statement: the slot moving is still unclaimed
    there and is taken off. What it says must be what a count after the move says, up to the limit
    (transactions in flight + 1). The count after commit is the accept's job's (eager here): the gift
    still ends claimed."""
    from django.contrib.auth import get_user_model

    from gifts.services.claim import slot_accept

    monkeypatch.setattr(states, "_most_transactions_at_once", lambda: 2)
    seen = []
    real = states._gift_behind_after_taken
    monkeypatch.setattr(states, "_gift_behind_after_taken", lambda *a: seen.append(real(*a)) or seen[-1])
    gift = make_gift(mode="group", recipients=5)
    users = get_user_model().objects.bulk_create(get_user_model()(username=f"check{i}") for i in range(5))
    for n, user in enumerate(users, start=1):
        with transaction.atomic():
            slot_accept(gift=gift, user=user, address=address)
            left = Slot.objects.filter(gift=gift, status=SlotStatus.UNCLAIMED).count()
            recount_after_commit = any(
                "gift_sync_if_behind" in getattr(getattr(f, "__code__", None), "co_names", ())
                for _, f, _ in connection.run_on_commit
            )
        _, unclaimed = seen[-1]
        assert left == 5 - n and unclaimed == min(left, 3), (n, seen[-1])
        # An accept leaves the count after commit to its process_claim job (it counts in its batch).
        assert not recount_after_commit, n
    gift.refresh_from_db()
    assert gift.status == "claimed"


@pytest.mark.django_db(transaction=True)
def test_what_would_differ_from_the_orm_is_refused(make_gift):
    gift = make_gift()
    slot = gift.slots.get()
    with pytest.raises(TransactionManagementError):  # on PostgreSQL its inserts would stay
        write_rows(inserts=(GiftEvent(gift_id=gift.pk, kind=GiftEvent.Kind.SLOT_STATUS),))
    with pytest.raises(TransactionManagementError):
        get_row(Slot, {"gift_id": gift.pk, "number": 1}, for_update=True)
    with pytest.raises(TypeError):
        get_row(Slot, {"gift_id": gift.pk, "recipient_id": None})
    with transaction.atomic():  # a field named twice is written once, as save(update_fields=...) does
        slot.status = SlotStatus.DECLINED
        write_rows(update=(slot, ["status", "status"]))
    slot.refresh_from_db()
    assert slot.status == SlotStatus.DECLINED
    with pytest.raises(AppError), transaction.atomic():  # rows along a move that is no move: refused
        states.slot_transition(slot, SlotStatus.DECLINED, locked=True, along=(GiftEvent(gift_id=gift.pk),))


@pytest.mark.django_db(transaction=True)
def test_a_decline_still_counts_the_gift_again_after_commit(make_gift, recipient):
    """Only the accept leaves the count after commit to its job: a decline (no job) counts itself."""
    from gifts.services.claim import slot_decline

    gift = make_gift()
    with transaction.atomic():
        slot_decline(gift=gift, user=recipient)
        registered = [
            f
            for _, f, _ in connection.run_on_commit
            if "gift_sync_if_behind" in getattr(getattr(f, "__code__", None), "co_names", ())
        ]
    assert len(registered) == 1
    gift.refresh_from_db()
    assert gift.status != "sent"


@pytest.mark.django_db
def test_a_statement_run_again_and_again_is_prepared_and_still_seen_by_django(make_gift, settings):
    """On PostgreSQL the composed statements are prepared once a connection has run them
    DATABASE_PREPARE_THRESHOLD times (planned once, not on every run); execute wrappers still see
    each run. Empty setting: nothing is prepared. While Django logs queries (a capture, DEBUG) they
    run on Django's own cursor, so the log shows each statement with its values."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    gift = make_gift()

    def prepared() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            return [row[0] for row in cursor.fetchall() if '"claim_token" = $1' in row[0]]

    def read_four_times() -> None:
        for _ in range(4):
            assert get_row(Gift, {"claim_token": gift.claim_token}).pk == gift.pk

    settings.DATABASE_PREPARE_THRESHOLD = None
    read_four_times()
    assert prepared() == []

    settings.DATABASE_PREPARE_THRESHOLD = 2
    with CaptureQueriesContext(connection) as captured:
        read_four_times()
    assert prepared() == []
    assert sum(gift.claim_token in (q["sql"] or "") for q in captured.captured_queries) == 4

    seen = []
    with connection.execute_wrapper(lambda execute, sql, *args: seen.append(sql) or execute(sql, *args)):
        read_four_times()
    assert len(prepared()) == 1
    assert len(seen) == 4


@pytest.mark.django_db
def test_a_statement_of_the_hot_path_compares_constants_as_literals():
    """A plan made once for every parameter value could not use the free-slot partial index
    (`recipient_id IS NULL AND status = 'unclaimed'`): the grab's take and the accept's look at a
    free slot say 'unclaimed' in their text."""
    from gifts.services.grab import _held_or_free_statement, _take_statement

    for sql in (_take_statement(connection.alias, skip_locked=True)[0], _held_or_free_statement(connection.alias)[0]):
        assert "status = 'unclaimed'" in sql
    with pytest.raises(ValueError):
        from giftshop.rows import sql_literal

        sql_literal("x'; DROP TABLE gifts_gift; --")
