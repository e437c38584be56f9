"""Fast-forward for a demo or a staging site (only while the sandbox is enabled): the operator moves
one gift's clock to now, then the very services beat runs on schedule do the work, so every page
shows what the real clock would have produced (cancelled, expired and refunded, drawn).

Nothing here changes a status itself: it moves a deadline (`pay_deadline`, a slot's `expires_at`,
`draw_at`) and calls the clock's service. A gift in a state where the step means nothing is refused
with a coded error and left as it was.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.services.lottery import lottery_pick_winners
from gifts.models import Gift, GiftStatus, Slot, SlotStatus
from gifts.services.expiry import expire_due
from gifts.services.unpaid import gift_cancel_unpaid
from giftshop.errors import AppError
from sandbox.error_codes import NOT_FAST_FORWARDABLE


def _require_sandbox() -> None:
    if not settings.SANDBOX_ENABLED:
        raise AppError("not_found", _("沙箱未启用"))


def gift_expire_now(*, gift_id: int) -> str:
    """The gift's window ends now. Unpaid: the payment window (cancelled, stock back, as beat's
    `cancel_unpaid_gifts`). Paid: the claim window of every slot nobody has accepted (expired,
    refunded, stock back, as beat's `expire_unclaimed_slots`). Returns what happened, for a message."""
    _require_sandbox()
    now = timezone.now()
    gift = Gift.objects.get(pk=gift_id)
    if gift.status == GiftStatus.PENDING_PAYMENT:
        Gift.objects.filter(pk=gift.pk).update(pay_deadline=now)
        if not gift_cancel_unpaid(gift_id=gift.pk):
            raise AppError(NOT_FAST_FORWARDABLE, _("网关显示这笔订单已支付，没有取消"))
        return _("支付时间已到：订单已取消，库存已退回")
    if gift.mode == Gift.Mode.LOTTERY and not hasattr(gift, "lottery_draw") and gift.status == GiftStatus.SENT:
        raise AppError(NOT_FAST_FORWARDABLE, _("抽奖还没有开奖：请先「立即开奖」，中奖者的领取时间才开始计算"))
    with transaction.atomic():
        due = Slot.objects.filter(gift=gift, status=SlotStatus.UNCLAIMED).update(expires_at=now)
        if due:
            Gift.objects.filter(pk=gift.pk).update(expires_at=now)
    if not due:
        raise AppError(
            NOT_FAST_FORWARDABLE,
            _("这份礼物没有待领取的份数（当前状态：%(status)s），无需过期") % {"status": gift.get_status_display()},
        )
    expire_due()
    return _("领取时间已到：%(n)s 份未领取，已过期并发起退款") % {"n": due}


def lottery_draw_now(*, gift_id: int) -> str:
    """A paid lottery not yet drawn is drawn now, by the same draw beat's `group_gifts_due` runs."""
    _require_sandbox()
    gift = Gift.objects.get(pk=gift_id)
    if gift.mode != Gift.Mode.LOTTERY:
        raise AppError(NOT_FAST_FORWARDABLE, _("这不是抽奖礼物"))
    if hasattr(gift, "lottery_draw"):
        raise AppError(NOT_FAST_FORWARDABLE, _("这次抽奖已经开过奖了"))
    if gift.status != GiftStatus.SENT:
        raise AppError(
            NOT_FAST_FORWARDABLE,
            _("只有已支付、还没开奖的抽奖可以开奖（当前状态：%(status)s）") % {"status": gift.get_status_display()},
        )
    now = timezone.now()
    Gift.objects.filter(pk=gift.pk, draw_at__gt=now).update(draw_at=now)
    draw = lottery_pick_winners(gift_id=gift.pk, now=now)
    if draw is None:
        raise AppError(NOT_FAST_FORWARDABLE, _("现在不能开奖"))
    return _("已开奖：%(entrants)s 人参与，%(winners)s 人中奖，%(unused)s 份未送出将退款") % {
        "entrants": len(draw.entrant_ids),
        "winners": len(draw.winner_ids),
        "unused": draw.units_unused,
    }
