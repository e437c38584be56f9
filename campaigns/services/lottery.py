"""Group lottery (群礼物抽奖): the sender buys N units, members enter until the draw time, a worker
draws up to N winners with a cryptographic source, losers are told and unused units are refunded.

Fairness and audit: entrants are ordered by entry id; `secrets.SystemRandom().sample` picks indices
into that list; both the list and the picks are kept in a LotteryDraw row, so anyone holding the
row can check that the winners are exactly the picked entrants.

Once only: the draw locks the gift row and the LotteryDraw is one-to-one with the gift, so two
racing draw tasks produce one draw. An entry inserts a row referencing the gift, which takes a
key-share lock on the gift that the draw's FOR UPDATE waits for: an entry is either committed
before the draw reads the entrants, or sees the draw and rolls back.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext as _

from campaigns import error_codes as E
from campaigns.models import LotteryDraw, LotteryEntry, LotteryInvite
from gifts import error_codes as GE
from gifts.events import lottery_drawn_event
from gifts.models import Gift, GiftStatus, Notification, Slot, SlotStatus
from gifts.services.checkout import gift_open, quantity_validate, sku_check_giftable
from gifts.services.notifications import notify
from gifts.states import slots_transition_bulk
from giftshop.errors import AppError
from payments.models import Refund
from payments.services import refund_request
from shops.selectors import product_card
from shops.services import stock_release

RANDOM_SOURCE = "secrets.SystemRandom"


def lottery_create(
    *,
    sender,
    sku_id: int,
    winners: int,
    draw_at: datetime,
    quantity: int = 1,
    message: str = "",
    allowed_usernames: list[str] | tuple[str, ...] = (),
) -> Gift:
    """A lottery gift awaiting payment. `allowed_usernames` empty: anyone with the link may enter."""
    quantity_validate(quantity)
    if not 1 <= winners <= settings.GIFT_MAX_RECIPIENTS:
        msg = gettext("中奖份数须在 1 到 %(max)s 之间") % {"max": settings.GIFT_MAX_RECIPIENTS}
        raise AppError(GE.BAD_RECIPIENTS, msg, fields={"winners": [msg]})
    now = timezone.now()
    if timezone.is_naive(draw_at):
        raise AppError(E.BAD_DRAW_TIME, gettext("开奖时间须带时区"), fields={"draw_at": [gettext("开奖时间须带时区")]})
    if not now + settings.LOTTERY_MIN_LEAD <= draw_at <= now + settings.LOTTERY_MAX_LEAD:
        msg = gettext("开奖时间须在 %(minutes)s 分钟后、%(days)s 天内") % {
            "minutes": int(settings.LOTTERY_MIN_LEAD.total_seconds() // 60),
            "days": settings.LOTTERY_MAX_LEAD.days,
        }
        raise AppError(E.BAD_DRAW_TIME, msg, fields={"draw_at": [msg]})
    invited = _resolve_invitees(sender=sender, usernames=allowed_usernames)
    sku = sku_check_giftable(sku_id=sku_id, units=winners * quantity)
    with transaction.atomic():
        gift, _ = gift_open(
            sender=sender,
            sku=sku,
            mode=Gift.Mode.LOTTERY,
            recipients=winners,
            quantity=quantity,
            message=message,
            draw_at=draw_at,
        )
        LotteryInvite.objects.bulk_create(LotteryInvite(gift=gift, user=u) for u in invited)
    return gift


def _resolve_invitees(*, sender, usernames) -> list:
    names = sorted({n.strip() for n in usernames if n and n.strip()})
    if not names:
        return []
    if len(names) > 10_000:
        raise AppError(
            GE.BAD_RECIPIENTS, gettext("参与名单过长"), fields={"allowed_usernames": [gettext("参与名单过长")]}
        )
    users = list(get_user_model().objects.filter(username__in=names, is_active=True))
    unknown = set(names) - {u.username for u in users}
    if unknown:
        # Refused, and without naming the names: a list of 2,000 guesses must not come back sorted
        # into accounts and non-accounts. The sender checks their own list (README "Security").
        raise AppError(
            GE.UNKNOWN_RECIPIENT,
            ngettext(
                "名单中有 %(n)d 个用户名找不到对应账号，请核对后再试",
                "名单中有 %(n)d 个用户名找不到对应账号，请核对后再试",
                len(unknown),
            )
            % {"n": len(unknown)},
            fields={"allowed_usernames": ["unknown usernames"]},
        )
    if any(u.pk == sender.pk for u in users):
        raise AppError(
            GE.CANNOT_GIFT_SELF, gettext("不能邀请自己参加抽奖"), fields={"allowed_usernames": [sender.username]}
        )
    return users


def lottery_enter(*, gift: Gift, user) -> tuple[LotteryEntry, bool]:
    """Enter the draw once. Returns (entry, created); entering again changes nothing."""
    if gift.mode != Gift.Mode.LOTTERY:
        raise AppError(E.NOT_LOTTERY, gettext("这不是抽奖礼物"))
    if gift.sender_id == user.pk:
        raise AppError(GE.NOT_YOURS, gettext("不能参加自己发起的抽奖"))
    existing = LotteryEntry.objects.filter(gift=gift, user=user).first()
    if existing is not None:
        return existing, False
    if gift.status != GiftStatus.SENT or timezone.now() >= gift.draw_at:
        raise AppError(E.LOTTERY_CLOSED, gettext("抽奖已截止"))
    if LotteryInvite.objects.filter(gift=gift).exists() and not (
        LotteryInvite.objects.filter(gift=gift, user=user).exists()
    ):
        raise AppError(E.NOT_INVITED, gettext("这次抽奖只邀请了指定的朋友"))
    try:
        with transaction.atomic():
            _hold_against_draw(gift.pk)
            if _drawn(gift) or timezone.now() >= gift.draw_at:
                raise AppError(E.LOTTERY_CLOSED, gettext("抽奖已截止"))
            entry = LotteryEntry.objects.create(gift=gift, user=user)
    except IntegrityError:
        return LotteryEntry.objects.get(gift=gift, user=user), False
    return entry, True


def _hold_against_draw(gift_id: int) -> None:
    """FOR KEY SHARE on the gift: entrants do not block each other, but the draw's FOR UPDATE waits
    for every entry in flight, and an entry started after the draw locked waits and then sees it."""
    if connection.vendor != "postgresql":
        return  # SQLite (the demo) serialises writers on its own
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM gifts_gift WHERE id = %s FOR KEY SHARE", [gift_id])


def _drawn(gift: Gift) -> bool:
    return LotteryDraw.objects.filter(gift_id=gift.pk).exists()


def lottery_pick_winners(*, gift_id: int, now: datetime | None = None) -> LotteryDraw | None:
    """Draw the winners of a due lottery, once. Returns the draw (the earlier one if already drawn),
    or None when there is nothing to draw yet (unpaid, cancelled, not due)."""
    now = now or timezone.now()
    with transaction.atomic():
        gift = (
            Gift.objects.select_for_update(of=("self",))
            .select_related("payment", "sender", "sku__product")
            .get(pk=gift_id)
        )
        existing = LotteryDraw.objects.filter(gift=gift).first()
        if existing is not None:
            return existing
        if gift.mode != Gift.Mode.LOTTERY or gift.status != GiftStatus.SENT or gift.draw_at > now:
            return None
        entrants = list(LotteryEntry.objects.filter(gift=gift).order_by("id").values_list("user_id", flat=True))
        units = gift.recipients_count
        picks = secrets.SystemRandom().sample(range(len(entrants)), min(units, len(entrants)))
        winner_ids = [entrants[i] for i in picks]
        slots = list(Slot.objects.select_for_update().filter(gift=gift).order_by("number"))
        claim_until = now + settings.GIFT_CLAIM_WINDOW
        won, unused = slots[: len(winner_ids)], slots[len(winner_ids) :]
        for slot, user_id in zip(won, winner_ids, strict=True):
            slot.recipient_id, slot.taken_at, slot.expires_at = user_id, now, claim_until
        Slot.objects.bulk_update(won, ["recipient", "taken_at", "expires_at"], batch_size=1000)
        gift.expires_at = claim_until
        gift.save(update_fields=["expires_at"])
        draw = LotteryDraw.objects.create(
            gift=gift,
            drawn_at=now,
            source=RANDOM_SOURCE,
            entrant_ids=entrants,
            picks=picks,
            winner_ids=winner_ids,
            units_unused=len(unused),
            refund_fen=len(unused) * gift.slot_amount_fen,
        )
        lottery_drawn_event(
            gift_id=gift.pk, data={"entrants": len(entrants), "winners": len(winner_ids), "units_unused": len(unused)}
        )
        if unused:
            _refund_unused(gift=gift, slots=unused)
        _tell_everyone(gift=gift, entrants=entrants, winner_ids=winner_ids, unused=len(unused))
    return draw


def _refund_unused(*, gift: Gift, slots: list[Slot]) -> None:
    """Units nobody could win: the slots close, stock comes back, each slot's money is refunded."""
    moved = slots_transition_bulk(
        [s.pk for s in slots], SlotStatus.EXPIRED, source=SlotStatus.UNCLAIMED, data={"reason": "undrawn"}
    )
    for slot in slots:
        if slot.pk in moved:
            refund_request(
                payment=gift.payment, slot=slot, amount_fen=gift.slot_amount_fen, reason=Refund.Reason.UNDRAWN
            )
    stock_release(sku_id=gift.sku_id, quantity=gift.quantity * len(moved))


def _tell_everyone(*, gift: Gift, entrants: list[int], winner_ids: list[int], unused: int) -> None:
    users = get_user_model().objects.in_bulk(entrants)
    winners = set(winner_ids)
    title = gift.sku.product.title
    for user_id in entrants:
        if user_id in winners:
            notify(
                user=users[user_id],
                kind=Notification.Kind.LOTTERY_WON,
                dedupe_key=f"lottery_won:{gift.pk}:{user_id}",
                title=_("恭喜中奖！%(title)s") % {"title": title},
                body=_("填写收货地址即可收下礼物。"),
                link=gift.claim_path(),
            )
        else:
            notify(
                user=users[user_id],
                kind=Notification.Kind.LOTTERY_LOST,
                dedupe_key=f"lottery_lost:{gift.pk}:{user_id}",
                title=_("很遗憾，这次没有抽中：%(title)s") % {"title": title},
                body=_("谢谢参与，下次好运！"),
                link=gift.claim_path(),
            )
    body = _("%(entrants)s 人参与，%(winners)s 人中奖。") % {"entrants": len(entrants), "winners": len(winner_ids)}
    if unused:
        body += _("未送出的 %(unused)s 份将原路退款 ¥%(amount).2f。") % {
            "unused": unused,
            "amount": unused * gift.slot_amount_fen / 100,
        }
    notify(
        user=gift.sender,
        kind=Notification.Kind.LOTTERY_DRAWN,
        dedupe_key=f"lottery_drawn:{gift.pk}",
        title=_("抽奖已开奖：%(title)s") % {"title": title},
        body=body,
        link=gift.get_absolute_url(),
    )


def lotteries_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Paid lotteries whose draw time has come and that have no draw yet."""
    now = now or timezone.now()
    return list(
        Gift.objects.filter(mode=Gift.Mode.LOTTERY, status=GiftStatus.SENT, draw_at__lte=now, lottery_draw__isnull=True)
        .order_by("draw_at")
        .values_list("pk", flat=True)[:limit]
    )


def _display_names(user_ids: list[int]) -> list[str]:
    users = get_user_model().objects.in_bulk(user_ids)
    return [users[i].get_full_name() or users[i].username for i in user_ids if i in users]


def lottery_open(*, gift: Gift, user) -> None:
    """A winner looking at the lottery after the draw: stamp `opened` for the sender's tracker."""
    if user.is_authenticated:
        Slot.objects.filter(gift=gift, recipient=user, opened_at__isnull=True).update(opened_at=timezone.now())


def lottery_card(*, gift: Gift, user) -> dict:
    """The lottery as an entrant sees it: no other entrant's identity."""
    sender = gift.sender
    draw = LotteryDraw.objects.filter(gift=gift).first()
    authenticated = getattr(user, "is_authenticated", False)
    entered = authenticated and LotteryEntry.objects.filter(gift=gift, user=user).exists()
    invites = LotteryInvite.objects.filter(gift=gift)
    restricted = invites.exists()
    invited = not restricted or (authenticated and invites.filter(user=user).exists())
    mine = Slot.objects.filter(gift=gift, recipient=user).first() if authenticated else None
    position = None
    if draw is not None and authenticated and user.pk in draw.entrant_ids:
        position = draw.entrant_ids.index(user.pk)
    return {
        "gift_id": gift.pk,
        "sender": sender.get_full_name() or sender.username,
        "message": gift.message,
        "status": gift.status,
        "product": product_card(gift.sku, shop_name=gift.shop.name),
        "paid_sku": {"id": gift.sku_id, "label": gift.sku.label if gift.sku.attributes else ""},
        "sku_id": gift.sku_id,
        "quantity": gift.quantity,
        "units": gift.recipients_count,
        "draw_at": gift.draw_at,
        "restricted": restricted,
        "invited": invited,
        "entrants": LotteryEntry.objects.filter(gift=gift).count(),
        "entered": bool(entered),
        "drawn": draw is not None,
        "drawn_at": draw.drawn_at if draw else None,
        "won": mine is not None,
        "expires_at": gift.expires_at if draw else None,
        "your_slot": {"id": mine.pk, "status": mine.status, "sku_id": mine.sku_id} if mine else None,
        "audit": (
            {
                "source": draw.source,
                "entrants": len(draw.entrant_ids),
                "picks": draw.picks,
                "your_position": position,
                # For people: entrants numbered from 1 in the order they entered, and who won (display
                # names only, as a group chat shows them).
                "numbers": [i + 1 for i in draw.picks],
                "your_number": position + 1 if position is not None else None,
                "winners": _display_names(draw.winner_ids),
            }
            if draw
            else None
        ),
    }
