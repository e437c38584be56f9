"""How a gift behaves in each of its modes, in one object per mode (the way django-oscar hangs an
order pipeline off one handler instead of `if mode == …` in many files).

The core registers the plain gift to one friend (`single`) and the group gift (`group`); the
campaigns app registers `lottery` and `bulk` from its AppConfig. The core asks `modes.of(gift)`.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from giftshop.errors import AppError
from giftshop.rows import get_row

from . import error_codes as E
from .events import grab_released_event
from .models import GIFT_CLAIMABLE, Gift, Slot, SlotStatus
from .services.grab import grab_slot_freed, held_or_free_applies, slot_grab, slot_held_or_free


class GiftMode:
    """A gift to one friend: the default behaviour every other mode starts from."""

    name = Gift.Mode.SINGLE
    # Whether the sender's page and the API give one shared claim link for the gift.
    shares_claim_link = True
    # Whether the sender may create it through the plain checkout (`gift_create`).
    plain_checkout = True
    # The page a shared link opens.
    claim_view = "claim"

    def slot_to_accept(self, *, gift: Gift, user, slot_token: str = "") -> Slot:
        """The slot this account may accept or decline, locked; refuses anyone else."""
        if gift.named_recipient_id and gift.named_recipient_id != user.pk:
            raise AppError(E.NOT_YOURS, _("这份礼物是送给另一位朋友的"))
        if gift.sender_id == user.pk:
            raise AppError(E.NOT_YOURS, _("不能领取自己送出的礼物"))
        return Slot.objects.select_for_update(of=("self",)).select_related("sku").get(gift=gift, number=1)

    def decline_releases_slot(self) -> bool:
        """True when declining gives the slot back to the group instead of refunding the sender."""
        return False

    def on_open(self, *, gift: Gift, user) -> None:
        """The recipient opened the card: stamp it for the sender's tracker, only when this account
        may claim it (not the sender, not someone else when the gift names a friend, not once the
        gift is over): the sender checking their own link would otherwise see "opened"."""
        if gift.named_recipient_id not in (None, user.pk) or gift.sender_id == user.pk:
            return
        if gift.status not in GIFT_CLAIMABLE or (gift.expires_at and gift.expires_at <= timezone.now()):
            return
        Slot.objects.filter(
            gift=gift, opened_at__isnull=True, status=SlotStatus.UNCLAIMED, recipient__isnull=True
        ).update(opened_at=timezone.now())

    def on_paid(self, gift: Gift) -> None:
        """Called in the payment's transaction once the gift is sent."""

    def remind_unnamed(self, *, slot: Slot) -> bool:
        """Remind about a slot nobody has taken yet. False: the core reminds the sender instead."""
        return False

    def sender_page(self, gift: Gift) -> str:
        """Where the sender follows the gift (and shares it, when it has a shared link)."""
        return reverse("gift-card", args=[gift.pk])


class GroupMode(GiftMode):
    """群发礼物: first come, first served, one slot per account."""

    name = Gift.Mode.GROUP

    def slot_to_accept(self, *, gift: Gift, user, slot_token: str = "") -> Slot:
        """The slot this account grabbed, locked; else, on PostgreSQL, a free one locked for the accept
        to take with its write (`slot_held_or_free`); else one it grabs now (the grab's `UPDATE`)."""
        if held_or_free_applies(gift=gift, user=user):
            slot = slot_held_or_free(gift=gift, user=user)
        else:
            slot = get_row(Slot, {"gift_id": gift.pk, "recipient_id": user.pk}, for_update=True)
        if slot is None:
            # No savepoint around the grab: a refusal ends the accept's transaction anyway.
            return slot_grab(gift=gift, user=user, savepoint=False)
        slot.gift = gift
        return slot

    def decline_releases_slot(self) -> bool:
        return True

    def on_open(self, *, gift: Gift, user) -> None:
        """Opening a group card takes nothing; the grab stamps `opened_at`."""

    def release(self, *, gift: Gift, user) -> Slot:
        """Give a grabbed slot back to the group (the group's 留给别人)."""
        slot = Slot.objects.select_for_update().filter(gift=gift, recipient=user).first()
        if slot is None or slot.status != SlotStatus.UNCLAIMED:
            raise AppError(E.NOT_CLAIMABLE, _("没有可以退回的礼物"))
        slot.recipient, slot.taken_at = None, None
        slot.save(update_fields=["recipient", "taken_at"])
        grab_released_event(slot=slot, actor=user)
        grab_slot_freed(gift.pk)
        return slot


_MODES: dict[str, GiftMode] = {}


def register(mode: GiftMode) -> None:
    _MODES[mode.name] = mode
    Gift.CLAIM_VIEWS[mode.name] = mode.claim_view


def of(gift: Gift) -> GiftMode:
    return _MODES[gift.mode]


register(GiftMode())
register(GroupMode())
