"""The two modes this app adds to the gift core: a group lottery and a bulk list."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from campaigns import error_codes as E
from gifts.models import Gift, Slot
from gifts.modes import GiftMode, register
from giftshop.errors import AppError

from .services.bulk import bulk_links_start, bulk_remind, bulk_slot_for_accept


class LotteryMode(GiftMode):
    """群礼物抽奖: the draw gives the winners their slots; the shared link opens the lottery page."""

    name = Gift.Mode.LOTTERY
    plain_checkout = False
    claim_view = "lottery"

    def slot_to_accept(self, *, gift: Gift, user, slot_token: str = "") -> Slot:
        slot = Slot.objects.select_for_update(of=("self",)).select_related("sku").filter(gift=gift, recipient=user)
        if (slot := slot.first()) is None:
            raise AppError(E.NOT_A_WINNER, _("只有中奖的朋友可以领取"))
        return slot

    def on_open(self, *, gift: Gift, user) -> None:
        """Entering the lottery is what the tracker counts."""


class BulkMode(GiftMode):
    """批量送礼: each person on the list has a personal link bound to a one-time code."""

    name = Gift.Mode.BULK
    plain_checkout = False
    shares_claim_link = False

    def slot_to_accept(self, *, gift: Gift, user, slot_token: str = "") -> Slot:
        return bulk_slot_for_accept(gift=gift, user=user, token=slot_token)

    def on_open(self, *, gift: Gift, user) -> None:
        """A personal link stamps its own slot (`bulk_open`)."""

    def on_paid(self, gift: Gift) -> None:
        bulk_links_start(gift=gift)

    def remind_unnamed(self, *, slot: Slot) -> bool:
        return bulk_remind(slot_id=slot.pk)

    def sender_page(self, gift: Gift) -> str:
        return reverse("bulk-order", args=[gift.bulk_order.pk])


register(LotteryMode())
register(BulkMode())
