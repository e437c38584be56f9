"""Claims processed in batches (the worker's path on a real broker): the same outcome as one by one,
once, in a number of statements that does not grow with the batch."""

from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gifts.models import GiftEvent, Notification, Slot
from gifts.services import claim
from gifts.services.claim import slot_accept
from gifts.tasks import process_claims
from outbox.models import Job
from payments.models import Refund
from shops.models import Sku
from tests.factories import SkuFactory, UserFactory

pytestmark = pytest.mark.django_db


def accepted_claims(gift, address, n: int, **kwargs) -> list[Slot]:
    """n recipients accept; their claims wait in the outbox (nothing runs them in this test)."""
    return [slot_accept(gift=gift, user=UserFactory(username=f"r{i}"), address=address, **kwargs) for i in range(n)]


def test_a_batch_moves_every_accepted_claim_to_ship_once_with_its_notices_and_waybill_job(
    make_gift, merchant, address, sender
):
    gift = make_gift(mode="group", recipients=5)
    slots = accepted_claims(gift, address, 5)
    assert Job.objects.filter(task="gifts.tasks.process_claim").count() == 5

    assert process_claims.run() == 5

    assert set(Slot.objects.filter(gift=gift).values_list("status", flat=True)) == {"to_ship"}
    moves = Counter(GiftEvent.objects.filter(gift=gift, kind="slot_status").values_list("slot_id", "to_status"))
    for slot in slots:
        assert moves[(slot.pk, "processing")] == moves[(slot.pk, "to_ship")] == 1
    keys = set(Notification.objects.values_list("dedupe_key", flat=True))
    for slot in slots:
        assert {f"accepted:{slot.pk}", f"accepted:{slot.pk}:recipient", f"to_ship:{slot.pk}:{merchant.pk}"} <= keys
    assert Notification.objects.filter(user=sender, kind="accepted").count() == 5
    assert not Job.objects.filter(task="gifts.tasks.process_claim").exists()
    assert sorted(Job.objects.filter(task="fulfilment.tasks.dispatch_shipment").values_list("args", flat=True)) == [
        [s.pk] for s in sorted(slots, key=lambda s: s.pk)
    ]


def test_running_the_batch_again_changes_nothing(make_gift, address):
    gift = make_gift(mode="group", recipients=3)
    accepted_claims(gift, address, 3)
    process_claims.run()
    events, notes = GiftEvent.objects.count(), Notification.objects.count()
    # A redelivered batch message, or the same claims published again by hand.
    Job.objects.bulk_create(
        Job(task="gifts.tasks.process_claim", args=[s.pk], due_at=timezone.now())
        for s in Slot.objects.filter(gift=gift)
    )

    process_claims.run()

    assert (GiftEvent.objects.count(), Notification.objects.count()) == (events, notes)
    assert Job.objects.filter(task="fulfilment.tasks.dispatch_shipment").count() == 3
    assert not Job.objects.filter(task="gifts.tasks.process_claim").exists()


def test_statements_per_batch_do_not_grow_with_the_batch(make_gift, address):
    small, big = make_gift(mode="group", recipients=2), make_gift(mode="group", recipients=40)
    accepted_claims(small, address, 2)
    with CaptureQueriesContext(connection) as two:
        process_claims.run()
    for i in range(40):
        slot_accept(gift=big, user=UserFactory(username=f"big{i}"), address=address)
    with CaptureQueriesContext(connection) as forty:
        process_claims.run()
    assert Slot.objects.filter(gift=big, status="to_ship").count() == 40
    assert len(forty) == len(two)


def test_a_switched_sku_in_a_batch_releases_the_paid_one_and_refunds_the_difference_once(make_gift, sku, address):
    cheaper = SkuFactory(product=sku.product, price_fen=7900, original_price_fen=9900, stock=10)
    gift = make_gift(mode="group", recipients=2, allow_sku_choice=True)
    switched = accepted_claims(gift, address, 1, sku_id=cheaper.pk)[0]
    slot_accept(gift=gift, user=UserFactory(username="keeps"), address=address)
    assert Sku.objects.get(pk=sku.pk).stock == 98

    process_claims.run()
    process_claims.run()

    [refund] = Refund.objects.filter(payment__gift=gift)
    assert (refund.slot_id, refund.reason, refund.amount_fen) == (switched.pk, "price_difference", 9900 - 7900)
    assert Sku.objects.get(pk=sku.pk).stock == 99
    assert Sku.objects.get(pk=cheaper.pk).stock == 9


def test_a_failing_batch_is_done_one_by_one_and_the_bad_claim_waits_alone(make_gift, address, monkeypatch):
    gift = make_gift(mode="group", recipients=3)
    good, bad, also_good = accepted_claims(gift, address, 3)

    def broken_batch(*, slot_ids):
        raise RuntimeError("a bug that only shows in a batch")

    single = claim.slot_hand_over

    def one(*, slot_id):
        if slot_id == bad.pk:
            raise RuntimeError("a bug in this one claim")
        return single(slot_id=slot_id)

    monkeypatch.setattr("gifts.tasks.slots_hand_over", broken_batch)
    monkeypatch.setattr("gifts.tasks.slot_hand_over", one)

    assert process_claims.run() == 2

    statuses = dict(Slot.objects.filter(gift=gift).values_list("pk", "status"))
    assert (statuses[good.pk], statuses[bad.pk], statuses[also_good.pk]) == ("to_ship", "accepted", "to_ship")
    [waiting] = Job.objects.filter(task="gifts.tasks.process_claim")
    assert waiting.args == [bad.pk] and waiting.last_error == "RuntimeError"
    # Not ready again at once: the next batch leaves it to beat's backoff.
    assert process_claims.run() == 0


def test_a_claim_job_run_again_or_given_up_still_counts_the_gift(make_gift, address):
    """The accept leaves its gift's count after commit to its job: a job run again after the hand-over
    (its count lost with a dead process), a batch of slots already handed over, and a job the outbox
    gave up on each count the gift all the same."""
    from gifts.models import Gift
    from outbox.jobs import _job_gave_up

    gift = make_gift(mode="group", recipients=2)
    slots = accepted_claims(gift, address, 2)
    assert process_claims.run() == 2
    gift.refresh_from_db()
    assert gift.status == "claimed"

    def behind():  # as if the last count had been lost
        Gift.objects.filter(pk=gift.pk).update(status="partly_claimed")

    behind()
    assert claim.slot_hand_over(slot_id=slots[0].pk) is False  # nothing to move: counted all the same
    assert Gift.objects.get(pk=gift.pk).status == "claimed"
    behind()
    from gifts.services.handover import slots_hand_over

    assert slots_hand_over(slot_ids=[s.pk for s in slots]) == []
    assert Gift.objects.get(pk=gift.pk).status == "claimed"
    behind()
    _job_gave_up(Job(task="gifts.tasks.process_claim", args=[slots[1].pk], publications=9))
    assert Gift.objects.get(pk=gift.pk).status == "claimed"
