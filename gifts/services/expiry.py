"""The expiry sweep: unclaimed slots past their window expire, their stock comes back and the
sender is refunded, each exactly once.

Batches are taken with FOR UPDATE SKIP LOCKED on the partial index of unclaimed slots by expiry
time, so several workers can sweep at once without taking the same row, and the cost follows
the number of rows that expired, not the size of the table.
"""

from __future__ import annotations

from collections import Counter

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from gifts import modes
from gifts.models import Gift, Notification, Slot, SlotStatus
from gifts.services.notifications import notify, notify_many
from gifts.states import slots_transition_bulk
from payments.models import Payment, Refund
from payments.services import refunds_request_bulk
from shops.services import stock_release


def expire_batch(*, limit: int = 500, now=None) -> int:
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            Slot.objects.select_for_update(skip_locked=True)
            .filter(status=SlotStatus.UNCLAIMED, expires_at__lte=now)
            .order_by("expires_at")
            .values_list("pk", "gift_id", "sku_id")[:limit]
        )
        if not rows:
            return 0
        moved = set(
            slots_transition_bulk(
                [pk for pk, _, _ in rows],
                SlotStatus.EXPIRED,
                source=SlotStatus.UNCLAIMED,
                data={"reason": "claim_window_passed"},
            )
        )
        gifts = Gift.objects.select_related("sender").in_bulk({gift_id for pk, gift_id, _ in rows if pk in moved})
        payments = {p.gift_id: p for p in Payment.objects.filter(gift_id__in=gifts)}
        released: Counter = Counter()
        refunds = []
        for pk, gift_id, sku_id in rows:
            if pk in moved:
                gift = gifts[gift_id]
                released[sku_id] += gift.quantity
                refunds.append((payments[gift_id], pk, gift.slot_amount_fen))
        refunds_request_bulk(items=refunds, reason=Refund.Reason.EXPIRED)
        for sku_id, units in sorted(released.items()):
            stock_release(sku_id=sku_id, quantity=units)
        title = gettext("礼物超时未领取，未领取部分将原路退款")
        notify_many(
            notes=[
                {
                    "user": g.sender,
                    "kind": Notification.Kind.EXPIRED,
                    "dedupe_key": f"expired:{g.pk}",
                    "title": title,
                    "link": g.get_absolute_url(),
                }
                for g in gifts.values()
            ]
        )
        return len(moved)


def expire_due(*, batch_size: int = 500, max_batches: int = 10_000) -> int:
    total = 0
    for _ in range(max_batches):
        n = expire_batch(limit=batch_size)
        total += n
        if n == 0:
            break
    return total


def slots_remind_before_expiry(*, within=None, limit: int = 1000) -> int:
    """Remind once, a few hours before expiry: the recipient when we know them, else the sender."""
    now = timezone.now()
    within = within or settings.GIFT_REMINDER_BEFORE
    rows = list(
        Slot.objects.filter(
            status=SlotStatus.UNCLAIMED, reminded_at__isnull=True, expires_at__gt=now, expires_at__lte=now + within
        )
        .select_related("gift__sender", "gift__named_recipient", "recipient")
        .order_by("expires_at")[:limit]
    )
    for slot in rows:
        gift = slot.gift
        person = slot.recipient or gift.named_recipient
        with transaction.atomic():
            if not Slot.objects.filter(pk=slot.pk, reminded_at__isnull=True).update(reminded_at=now):
                continue
            if person is not None:
                notify(
                    user=person,
                    kind=Notification.Kind.REMINDER,
                    dedupe_key=f"reminder:{slot.pk}",
                    title=gettext("你有一份礼物即将过期，请尽快填写地址收下"),
                    link=gift.claim_path(),
                )
            elif not modes.of(gift).remind_unnamed(slot=slot):  # e.g. a bulk row's phone or email
                notify(
                    user=gift.sender,
                    kind=Notification.Kind.REMINDER,
                    dedupe_key=f"reminder:{slot.pk}",
                    title=gettext("你送出的礼物还没有人领取，即将过期"),
                    body=gettext("可以再把礼物卡片发给朋友提醒一下。"),
                    link=gift.get_absolute_url(),
                )
    return len(rows)
