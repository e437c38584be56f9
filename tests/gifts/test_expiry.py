"""The expiry sweep (gifts/services/expiry.py): refunds exactly once under concurrent sweepers, money conserved."""

import secrets
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from gifts.models import Gift, GiftEvent, GiftStatus, Notification, Slot, SlotStatus
from gifts.services.claim import slot_accept, slot_decline, slot_grab
from gifts.services.expiry import expire_batch, expire_due, slots_remind_before_expiry
from gifts.states import slot_transition
from giftshop.errors import AppError
from outbox.models import Job
from payments import tasks
from payments.models import Payment, Refund
from sandbox import payment as sandbox_payment
from sandbox.carrier import gateway_scan
from sandbox.models import SandboxPayOrder, SandboxRefund
from shops.models import Sku
from tests.factories import SkuFactory, UserFactory


def make_expired_gifts(*, sku, sender, gifts: int, slots_per_gift: int, quantity: int = 1) -> list[Gift]:
    """Paid, sent gifts whose claim window has passed, written in bulk (as checkout and payment would leave
    them, stock already taken), so a sweep over thousands of slots can be tested quickly."""
    now = timezone.now()
    past = now - timedelta(minutes=5)
    mode = Gift.Mode.GROUP if slots_per_gift > 1 else Gift.Mode.SINGLE
    amount = sku.price_fen * quantity * slots_per_gift
    made = Gift.objects.bulk_create(
        Gift(
            sender=sender,
            shop_id=sku.product.shop_id,
            sku=sku,
            mode=mode,
            recipients_count=slots_per_gift,
            quantity=quantity,
            unit_price_fen=sku.price_fen,
            amount_fen=amount,
            status="sent",
            pay_deadline=now - timedelta(days=1),
            paid_at=now - timedelta(days=1),
            expires_at=past,
        )
        for _ in range(gifts)
    )
    trade_nos = {gift.pk: f"GSBULK{gift.pk}{secrets.token_hex(4)}" for gift in made}
    Payment.objects.bulk_create(
        Payment(gift=gift, provider="sandbox", out_trade_no=trade_nos[gift.pk], amount_fen=amount, status="paid")
        for gift in made
    )
    SandboxPayOrder.objects.bulk_create(
        SandboxPayOrder(
            out_trade_no=no, transaction_id="SBX" + secrets.token_hex(12), amount_fen=amount, status="paid", paid_at=now
        )
        for no in trade_nos.values()
    )
    Slot.objects.bulk_create(
        Slot(gift=gift, number=n, sku=sku, status="unclaimed", expires_at=past)
        for gift in made
        for n in range(1, slots_per_gift + 1)
    )
    return made


def _expire(gift: Gift) -> None:
    past = timezone.now() - timedelta(seconds=1)
    Gift.objects.filter(pk=gift.pk).update(expires_at=past)
    Slot.objects.filter(gift=gift).update(expires_at=past)
    gift.refresh_from_db()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_over_ten_thousand_expired_slots_refund_each_exactly_once(monkeypatch):
    # Refund tasks are recorded as the broker would queue them; the gateway's success callbacks are left out.
    # Submitting all 10,000 to the gateway is the slow part, so a sample is run by workers below.
    monkeypatch.setattr(sandbox_payment, "_schedule_callback", lambda kind, key: None)
    queued: list[int] = []
    queue_lock = threading.Lock()

    def enqueue(refund_id):
        with queue_lock:
            queued.append(refund_id)

    monkeypatch.setattr(tasks.send_refund, "apply_async", lambda args=(), **kw: enqueue(*args))
    sender = UserFactory(username="bulk-sender")
    sku = SkuFactory(stock=0, price_fen=2500, original_price_fen=3000)
    other_sku = SkuFactory(stock=0, price_fen=1200, original_price_fen=1500)
    made = make_expired_gifts(sku=sku, sender=sender, gifts=180, slots_per_gift=50)
    made += make_expired_gifts(sku=other_sku, sender=sender, gifts=250, slots_per_gift=2, quantity=2)
    made += make_expired_gifts(sku=other_sku, sender=sender, gifts=500, slots_per_gift=1, quantity=3)
    assert Slot.objects.count() == 10_000
    start = threading.Barrier(2)

    def sweep(fn):
        start.wait()
        try:
            return fn()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = list(pool.map(sweep, [lambda: expire_due(batch_size=500), lambda: expire_batch(limit=10_000)]))

    assert sum(counts) == 10_000
    refund_ids = set(Refund.objects.values_list("pk", flat=True))
    assert len(queued) == 10_000 and set(queued) == refund_ids  # each refund handed to the workers exactly once
    # ... and each recorded in the outbox until a worker has done it: a lost message is published again.
    assert Job.objects.filter(task="payments.tasks.send_refund").count() == 10_000

    # Two workers submit a sample, each refund delivered twice at once (brokers deliver at least once).
    sample = sorted(queued)[::20]

    def worker(refund_id):
        try:
            tasks.send_refund(refund_id)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(worker, [pk for pk in sample for _ in range(2)]))
    sampled = dict(Refund.objects.filter(pk__in=sample).values_list("out_refund_no", "amount_fen"))
    assert SandboxRefund.objects.count() == len(sample) == 500
    assert dict(SandboxRefund.objects.values_list("out_refund_no", "amount_fen")) == sampled

    assert Slot.objects.filter(status="expired").count() == 10_000
    refunds = Refund.objects.all()
    assert refunds.count() == 10_000
    assert refunds.values("slot_id").distinct().count() == 10_000
    assert set(refunds.values_list("reason", flat=True)) == {"expired"}
    assert refunds.values("out_refund_no").distinct().count() == 10_000
    # Each slot's refund is its share of the payment, so every gift's refunds add up to what was paid.
    refunded = dict(
        refunds.values("payment__gift_id").annotate(s=Sum("amount_fen")).values_list("payment__gift_id", "s")
    )
    assert refunded == {gift.pk: gift.amount_fen for gift in made}
    # Stock released exactly once per slot.
    assert Sku.objects.get(pk=sku.pk).stock == 180 * 50
    assert Sku.objects.get(pk=other_sku.pk).stock == 250 * 2 * 2 + 500 * 3
    events = GiftEvent.objects.filter(kind="slot_status", to_status="expired")
    assert events.count() == 10_000 and events.values("slot_id").distinct().count() == 10_000
    assert Counter(Gift.objects.values_list("status", flat=True)) == {"expired": len(made)}
    assert Notification.objects.filter(kind="expired").count() == len(made)
    assert expire_due() == 0


@pytest.mark.django_db
def test_partly_claimed_group_gift_refunds_only_the_unclaimed_slots(
    make_gift, sku, sender, address, django_capture_on_commit_callbacks
):
    gift = make_gift(mode="group", recipients=4, quantity=2)
    takers = [UserFactory(username=f"taker{i}") for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        slot_accept(gift=gift, user=takers[0], address=address)
        slot_accept(gift=gift, user=takers[1], address=address)
    slot_grab(gift=gift, user=takers[2])  # grabbed but never accepted: it expires too
    assert Sku.objects.get(pk=sku.pk).stock == 92
    _expire(gift)
    with django_capture_on_commit_callbacks(execute=True):
        assert expire_due() == 2
    statuses = Counter(gift.slots.values_list("status", flat=True))
    assert statuses == {"to_ship": 2, "refunded": 2}
    refunds = Refund.objects.filter(payment__gift=gift)
    assert refunds.count() == 2 and all(r.status == "succeeded" for r in refunds)
    assert {r.slot.status for r in refunds} == {"refunded"}
    assert refunds.aggregate(s=Sum("amount_fen"))["s"] == 2 * gift.slot_amount_fen
    assert Sku.objects.get(pk=sku.pk).stock == 96
    gift.refresh_from_db()
    assert gift.status == "claimed"
    with django_capture_on_commit_callbacks(execute=True):
        assert expire_due() == 0
    assert Refund.objects.filter(payment__gift=gift).count() == 2
    assert Sku.objects.get(pk=sku.pk).stock == 96
    assert Notification.objects.filter(user=sender, kind="expired").count() == 1


@pytest.mark.django_db
def test_gifts_still_inside_their_window_are_not_swept(make_gift, sku):
    gift = make_gift(mode="group", recipients=3)
    assert expire_due() == 0
    assert set(gift.slots.values_list("status", flat=True)) == {"unclaimed"}
    assert not Refund.objects.exists() and Sku.objects.get(pk=sku.pk).stock == 97


def _deliver(slot: Slot) -> None:
    gateway_scan(slot.shipment.waybill_no, "collected")
    gateway_scan(slot.shipment.waybill_no, "delivered")


@pytest.mark.django_db
def test_money_is_conserved_for_every_gift_across_delivery_decline_switch_and_expiry(
    make_gift, sku, sender, address, django_capture_on_commit_callbacks
):
    """paid == sum of slot amounts == value of what ships (at the shipped SKU's price) + succeeded refunds."""
    cheaper = SkuFactory(product=sku.product, price_fen=6600, original_price_fen=9900, stock=10)
    people = [UserFactory(username=f"friend{i}") for i in range(6)]
    delivered = make_gift()
    declined = make_gift()
    group = make_gift(mode="group", recipients=4, quantity=2, allow_sku_choice=True)
    expired = make_gift(quantity=3)
    with django_capture_on_commit_callbacks(execute=True):
        slot_accept(gift=delivered, user=people[0], address=address)
        slot_decline(gift=declined, user=people[1])
        slot_accept(gift=group, user=people[2], address=address, sku_id=cheaper.pk)
        slot_accept(gift=group, user=people[3], address=address)
        slot_grab(gift=group, user=people[4])
    _deliver(Slot.objects.select_related("shipment").get(gift=delivered))
    _deliver(Slot.objects.select_related("shipment").get(gift=group, recipient=people[2]))
    _expire(group)
    _expire(expired)
    with django_capture_on_commit_callbacks(execute=True):
        assert expire_due() == 3

    shipping = {"to_ship", "shipped", "delivered"}
    price_difference = defaultdict(int)
    for r in Refund.objects.filter(reason="price_difference", status="succeeded"):
        price_difference[r.slot_id] += r.amount_fen
    for gift in (delivered, declined, group, expired):
        gift.refresh_from_db()
        paid = gift.payment.amount_fen
        slots = list(gift.slots.select_related("sku"))
        assert paid == gift.amount_fen == sum(gift.slot_amount_fen for _ in slots)
        shipped_value = sum(gift.slot_amount_fen - price_difference[s.pk] for s in slots if s.status in shipping)
        assert shipped_value == sum(s.sku.price_fen * gift.quantity for s in slots if s.status in shipping)
        refunded = gift.payment.refunds.filter(status="succeeded").aggregate(s=Sum("amount_fen"))["s"] or 0
        assert gift.payment.refunds.exclude(status="succeeded").count() == 0
        assert paid == shipped_value + refunded, gift
    assert (delivered.status, declined.status, group.status, expired.status) == (
        "finished",
        "refunded",
        "claimed",
        "refunded",
    )
    assert Sku.objects.get(pk=sku.pk).stock == 100 - 1 - 2  # the delivered single and one group slot of 2 units
    assert Sku.objects.get(pk=cheaper.pk).stock == 8


@pytest.mark.django_db
def test_reminder_before_expiry_notifies_once(make_gift, sender, recipient):
    named = make_gift(recipient_username=recipient.username)
    unnamed = make_gift()
    later = make_gift()
    soon = timezone.now() + settings.GIFT_REMINDER_BEFORE - timedelta(minutes=30)
    Slot.objects.filter(gift__in=[named, unnamed]).update(expires_at=soon)
    assert slots_remind_before_expiry() == 2
    assert slots_remind_before_expiry() == 0
    assert Notification.objects.filter(user=recipient, kind="reminder").count() == 1
    assert Notification.objects.filter(user=sender, kind="reminder").count() == 1
    assert Slot.objects.filter(gift=later, reminded_at__isnull=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_sweep_and_an_accept_in_flight_leave_the_gift_counted_whichever_commits_last(monkeypatch):
    """The sweep counts a gift's slots before an accept in flight commits, and that accept's own count
    after its commit runs before the sweep commits: neither sees the other. The sweep counts again once
    it commits, or the gift would stay 部分领取 with no slot left to claim."""
    monkeypatch.setattr(tasks.send_refund, "apply_async", lambda *a, **kw: None)
    sender, early, late = UserFactory(), UserFactory(), UserFactory()
    (gift,) = make_expired_gifts(sku=SkuFactory(stock=0), sender=sender, gifts=1, slots_per_gift=3)
    swept, accepted, held = Slot.objects.filter(gift=gift).order_by("number")
    Slot.objects.filter(pk=accepted.pk).update(status=SlotStatus.ACCEPTED, recipient=early)
    # Grabbed, its own window still open: the sweep leaves it to the accept.
    Slot.objects.filter(pk=held.pk).update(recipient=late, expires_at=timezone.now() + timedelta(days=1))
    Gift.objects.filter(pk=gift.pk).update(status=GiftStatus.PARTLY_CLAIMED)
    moved, counted, go_accept, go_sweep = (threading.Event() for _ in range(4))

    def accept():
        try:
            with transaction.atomic():
                slot_transition(held.pk, SlotStatus.ACCEPTED, actor=late)
                moved.set()
                go_accept.wait(10)
            # Committed, and its count after commit has run: it saw the expired slot still unclaimed.
        finally:
            connection.close()

    def sweep():
        try:
            moved.wait(10)
            with transaction.atomic():
                assert expire_batch() == 1
                counted.set()
                go_sweep.wait(10)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept), threading.Thread(target=sweep)]
    for thread in threads:
        thread.start()
    assert counted.wait(10)
    go_accept.set()
    threads[0].join(10)
    assert Gift.objects.get(pk=gift.pk).status == GiftStatus.PARTLY_CLAIMED  # both counts missed the other
    go_sweep.set()
    threads[1].join(10)

    assert sorted(Slot.objects.filter(gift=gift).values_list("status", flat=True)) == [
        "accepted",
        "accepted",
        "expired",
    ]
    assert Gift.objects.get(pk=gift.pk).status == GiftStatus.CLAIMED


@pytest.mark.django_db(transaction=True)
def test_a_sweep_and_a_withdraw_of_the_same_gift_do_not_deadlock(monkeypatch):
    """The sweep locks expired slots, then their gifts; a sender's withdraw locks the gift, then its
    slots. The sweep leaves a gift locked elsewhere to its count after commit instead of waiting."""
    from gifts import states
    from gifts.services.sender import gift_withdraw

    monkeypatch.setattr(tasks.send_refund, "apply_async", lambda *a, **kw: None)
    sender = UserFactory()
    (gift,) = make_expired_gifts(sku=SkuFactory(stock=0), sender=sender, gifts=1, slots_per_gift=2)
    slots_locked, errors, outcomes = threading.Event(), [], []
    real_sync = states.gifts_sync_bulk

    def sync_after_a_pause(gift_ids, **kwargs):  # the sweep holds its slots; the withdraw takes the gift now
        slots_locked.set()
        time.sleep(0.5)
        return real_sync(gift_ids, **kwargs)

    monkeypatch.setattr(states, "gifts_sync_bulk", sync_after_a_pause)

    def sweep():
        try:
            outcomes.append(("swept", expire_batch()))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    def withdraw():
        slots_locked.wait(10)
        try:
            gift_withdraw(gift_id=gift.pk, user=sender)
            outcomes.append(("withdrawn", None))
        except AppError as exc:
            outcomes.append(("refused", exc.code))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep), threading.Thread(target=withdraw)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []  # no deadlock (PostgreSQL would abort one of the two)
    assert sorted(outcomes) == [("refused", "nothing_to_withdraw"), ("swept", 2)]
    assert Gift.objects.get(pk=gift.pk).status == GiftStatus.EXPIRED  # counted after the sweep committed
    assert Refund.objects.filter(payment__gift=gift).count() == 2
