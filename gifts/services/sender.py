"""The sender's loose ends: take back what nobody has claimed, and remind who has not accepted.

Withdrawing closes every still-unclaimed slot of a single or group gift at once, as the expiry
sweep would (`expired`, marked as withdrawn in the trail), returns its stock and asks for the
refund now (reason `withdrawn`, one per slot); the slot shows refunded once the refund settles.
Reminding notifies everyone who holds a slot of the gift and has not accepted (a named friend, a
group member who grabbed, a lottery winner, a list recipient's phone or e-mail), at most once per
`GIFT_REMIND_INTERVAL` per gift, counted in the shared cache.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gifts import error_codes as E
from gifts import modes
from gifts.models import GIFT_UNPAID, Gift, Notification, Slot, SlotStatus
from gifts.services.notifications import notify
from gifts.states import slots_transition_bulk
from giftshop.errors import AppError, NotFound, Throttled
from payments.models import Refund
from payments.services import refunds_request_bulk
from shops.services import stock_release

WITHDRAWABLE_MODES = {Gift.Mode.SINGLE, Gift.Mode.GROUP}


def gift_withdraw(*, gift_id: int, user) -> Gift:
    with transaction.atomic():
        gift = (
            Gift.objects.select_for_update(of=("self",), no_key=True)  # (an accept's FK check may take a key share)
            .select_related("payment")
            .filter(pk=gift_id, sender_id=getattr(user, "pk", None))
            .first()
        )
        if gift is None:
            raise NotFound(_("礼物不存在"))
        if gift.status in GIFT_UNPAID or gift.mode not in WITHDRAWABLE_MODES:
            raise AppError(E.NOTHING_TO_WITHDRAW, _("这份礼物没有可以撤回的部分"))
        ids = list(
            Slot.objects.select_for_update()
            .filter(gift=gift, status=SlotStatus.UNCLAIMED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not ids:
            raise AppError(E.NOTHING_TO_WITHDRAW, _("已经没有待领取的份数可以撤回"))
        moved = slots_transition_bulk(
            ids, SlotStatus.EXPIRED, source=SlotStatus.UNCLAIMED, data={"reason": "withdrawn_by_sender"}
        )
        refunds_request_bulk(
            items=[(gift.payment, pk, gift.slot_amount_fen) for pk in moved], reason=Refund.Reason.WITHDRAWN
        )
        stock_release(sku_id=gift.sku_id, quantity=gift.quantity * len(moved))
    gift.refresh_from_db()
    return gift


def gift_remind(*, gift_id: int, user) -> int:
    """Remind who holds a slot and has not accepted. Returns how many were reminded. The interval
    starts with a reminder sent: a press that found nobody to remind (all who took a slot accepted,
    or nobody took one yet) sends nothing and leaves the next press free."""
    gift = (
        Gift.objects.filter(pk=gift_id, sender_id=getattr(user, "pk", None)).select_related("named_recipient").first()
    )
    if gift is None:
        raise NotFound(_("礼物不存在"))
    interval = int(settings.GIFT_REMIND_INTERVAL.total_seconds())
    key = f"gift-remind:{gift.pk}"
    if not cache.add(key, timezone.now().timestamp(), timeout=interval):
        since = timezone.now().timestamp() - float(cache.get(key) or timezone.now().timestamp())
        raise Throttled(_("刚刚提醒过，稍后再试"), retry_after=max(1, interval - int(since)))
    reminded = 0
    now = timezone.now()
    for slot in Slot.objects.filter(gift=gift, status=SlotStatus.UNCLAIMED).select_related("recipient"):
        person = slot.recipient or gift.named_recipient
        if person is not None:
            reminded += (
                notify(
                    user=person,
                    kind=Notification.Kind.REMINDER,
                    dedupe_key=f"remind:{slot.pk}:{now:%Y%m%d%H%M%S}",
                    title=_("%(sender)s 提醒你收下礼物")
                    % {"sender": gift.sender.get_full_name() or gift.sender.username},
                    body=_("填写地址后商家就会发货。"),
                    link=gift.claim_path(),
                )
                is not None
            )
        elif modes.of(gift).remind_unnamed(slot=slot):
            reminded += 1
    if not reminded:
        cache.delete(key)
    return reminded
