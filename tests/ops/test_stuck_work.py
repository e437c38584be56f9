"""`manage.py stuck_work` lists what did not move on and `--replay` hands it to the workers again."""

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from fulfilment.models import Shipment
from fulfilment.services.shipments import shipment_record_failure
from gifts.models import Gift, GiftStatus, Slot, SlotStatus
from gifts.services.claim import slot_decline, slot_hand_over
from giftshop.stuck_work import stuck_work_list
from payments.models import Refund
from tests.ops.helpers import accept

AN_HOUR_AGO = timedelta(hours=1)


def backdate(*, slots=(), refunds=(), unpaid=()):
    then = timezone.now() - AN_HOUR_AGO
    Slot.objects.filter(pk__in=[s.pk for s in slots]).update(status_changed_at=then)
    Refund.objects.filter(pk__in=[r.pk for r in refunds]).update(created_at=then)
    Gift.objects.filter(pk__in=[g.pk for g in unpaid]).update(pay_deadline=then)


def stuck_everywhere(make_gift, recipient, address):
    claim = accept(make_gift(), recipient, address)
    missing = accept(make_gift(), recipient, address)
    slot_hand_over(slot_id=missing.pk)
    failed = accept(make_gift(), recipient, address)
    slot_hand_over(slot_id=failed.pk)
    shipment_record_failure(slot_id=failed.pk, error="courier down", final=True)
    declined = make_gift()
    slot_decline(gift=declined, user=recipient)
    refund = Refund.objects.get(payment__gift=declined)
    unpaid = make_gift(paid=False)
    return claim, missing, failed, refund, unpaid


def test_recent_work_is_not_stuck_and_old_work_is_listed(make_gift, recipient, address):
    claim, missing, failed, refund, unpaid = stuck_everywhere(make_gift, recipient, address)
    fresh = accept(make_gift(), recipient, address)

    assert stuck_work_list(older_than=timedelta(minutes=10)).total() == 0

    backdate(slots=[claim, missing, failed], refunds=[refund], unpaid=[unpaid])
    stuck = stuck_work_list(older_than=timedelta(minutes=10))
    assert stuck.claims == [claim.pk]
    assert stuck.waybills_missing == [missing.pk]
    assert stuck.waybills_failed == [failed.pk]
    assert stuck.refunds == [refund.pk]
    assert stuck.unpaid == [unpaid.pk]
    assert fresh.pk not in stuck.claims


def test_command_lists_without_changing_anything(make_gift, recipient, address):
    claim, missing, failed, refund, unpaid = stuck_everywhere(make_gift, recipient, address)
    backdate(slots=[claim, missing, failed], refunds=[refund], unpaid=[unpaid])
    out = StringIO()
    call_command("stuck_work", "--minutes", "10", stdout=out)
    text = out.getvalue()
    assert f"claims: 1 accepted claims not yet processed (slot ids): {claim.pk}" in text
    assert f"waybills_failed: 1 to-ship slots whose waybill request failed for good (slot ids): {failed.pk}" in text
    assert f"refunds: 1 refunds still pending (refund ids): {refund.pk}" in text
    assert "--replay" in text
    claim.refresh_from_db()
    assert claim.status == SlotStatus.ACCEPTED
    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.PENDING


def test_replay_moves_every_stuck_row_on_through_the_usual_tasks(
    make_gift, recipient, address, django_capture_on_commit_callbacks
):
    claim, missing, failed, refund, unpaid = stuck_everywhere(make_gift, recipient, address)
    backdate(slots=[claim, missing, failed], refunds=[refund], unpaid=[unpaid])
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("stuck_work", "--minutes", "10", "--replay", stdout=out)
    assert "replayed: claims 1, waybills_missing 1, waybills_failed 1, refunds 1, unpaid 1" in out.getvalue()

    for slot in (claim, missing, failed):
        slot.refresh_from_db()
        assert slot.status == SlotStatus.TO_SHIP
        assert Shipment.objects.get(slot=slot).status == Shipment.Status.ISSUED
    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.SUCCEEDED
    unpaid.refresh_from_db()
    assert unpaid.status == GiftStatus.CANCELLED
    assert stuck_work_list(older_than=timedelta(minutes=10)).total() == 0


def test_replay_asks_the_courier_again_for_an_e_waybill_it_did_not_take_back(
    make_gift, recipient, address, django_capture_on_commit_callbacks
):
    """A refunded parcel whose cancel gave up (the courier did not answer) is listed and, once the
    courier is back, cancelled by the replay; a second replay finds nothing."""
    from fulfilment.services.shipments import slot_refund_after_sales, waybill_cancel_give_up

    with django_capture_on_commit_callbacks(execute=True):
        slot = accept(make_gift(), recipient, address)
    shipment = Shipment.objects.get(slot=slot)
    assert shipment.status == Shipment.Status.ISSUED
    with django_capture_on_commit_callbacks(execute=False):  # the cancel job is recorded, never run
        slot_refund_after_sales(slot=Slot.objects.get(pk=slot.pk), actor=None, authorised=True)
    waybill_cancel_give_up(shipment_id=shipment.pk, error="courier down")
    assert stuck_work_list(older_than=AN_HOUR_AGO).cancels_failed == [shipment.pk]

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("stuck_work", "--minutes", "60", "--replay", stdout=out)
    assert "cancels_failed 1" in out.getvalue()
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.CANCELLED
    assert stuck_work_list(older_than=AN_HOUR_AGO).cancels_failed == []
