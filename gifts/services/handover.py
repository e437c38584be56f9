"""The worker's half of accepting, for a batch of claims at once (a burst of accepts on a group gift).

The same outcome as `claim.slot_hand_over` for each claim, in a fixed number of statements per
batch: the slots are locked together, moved accepted → processing → to_ship with one update and
one insert of events each, the notices are one insert, and the waybill jobs are one insert.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from django.db import transaction
from django.utils.translation import gettext as _

from gifts.models import Notification, Slot, SlotStatus
from gifts.services.notifications import notify_many
from gifts.states import gifts_sync_if_behind, slots_transition_bulk
from outbox.jobs import enqueue_many
from payments.models import Refund
from payments.services import refund_request
from shops.models import ShopStaff
from shops.services import stock_release

log = logging.getLogger(__name__)


def slots_hand_over(*, slot_ids: list[int]) -> list[int]:
    """Hand accepted claims to the shop: stock and the price difference for a 款式 switch, the
    to-ship order, the notices, one waybill job each. Returns the ids that moved; a slot that is
    not `accepted` any more (done already) is left alone, so a batch run twice changes nothing."""
    with transaction.atomic():
        slots = list(
            Slot.objects.select_for_update(of=("self",))
            .select_related("gift__payment", "gift__sender", "sku__product", "recipient")
            .filter(pk__in=slot_ids, status=SlotStatus.ACCEPTED)
            .order_by("pk")
        )
        ids = _hand_over_all(slots) if slots else []
    # The accepts left their gifts' count after commit to this job (`slot_transition(recount=False)`):
    # every slot's gift is counted, moved by this run or not, so a run again after a lost count makes it.
    gifts_sync_if_behind(Slot.objects.filter(pk__in=slot_ids).values_list("gift_id", flat=True))
    if ids:
        log.info("claims processed: %s to ship", len(ids))
    return ids


def _hand_over_all(slots: list[Slot]) -> list[int]:
    """The hand-over of the batch's accepted slots, inside the caller's transaction, locked."""
    ids = [slot.pk for slot in slots]
    slots_transition_bulk(ids, SlotStatus.PROCESSING, source=SlotStatus.ACCEPTED)
    for slot in slots:
        gift = slot.gift
        if slot.sku_id != gift.sku_id:  # the recipient switched 款式 (rare): the old one goes back
            stock_release(sku_id=gift.sku_id, quantity=gift.quantity)
            difference = (gift.unit_price_fen - slot.sku.price_fen) * gift.quantity
            refund_request(
                payment=gift.payment, slot=slot, amount_fen=difference, reason=Refund.Reason.PRICE_DIFFERENCE
            )
    slots_transition_bulk(ids, SlotStatus.TO_SHIP, source=SlotStatus.PROCESSING)
    notify_many(notes=hand_over_notes(slots))
    enqueue_many("fulfilment.tasks.dispatch_shipment", [(pk,) for pk in ids])
    return ids


def hand_over_notes(slots: list[Slot]) -> list[dict]:
    """The notices of a hand-over, for `notify_many`: the sender and the recipient hear it was
    accepted, the shop's staff of a new order to ship (read once per shop). The batch and
    `claim.slot_hand_over` (one claim) send the same."""
    staff = defaultdict(list)
    shop_ids = {slot.gift.shop_id for slot in slots}
    for member in ShopStaff.objects.filter(shop_id__in=shop_ids).select_related("user"):
        staff[member.shop_id].append(member.user)
    notes = []
    for slot in slots:
        gift, title = slot.gift, slot.sku.product.title
        notes.append(
            {
                "user": gift.sender,
                "kind": Notification.Kind.ACCEPTED,
                "dedupe_key": f"accepted:{slot.pk}",
                "title": _("朋友收下了你的礼物：%(title)s") % {"title": title},
                "body": _("商家将尽快发货。"),
                "link": gift.get_absolute_url(),
            }
        )
        notes.append(
            {
                "user": slot.recipient,
                "kind": Notification.Kind.ACCEPTED,
                "dedupe_key": f"accepted:{slot.pk}:recipient",
                "title": _("你已收下礼物：%(title)s") % {"title": title},
                "body": _("商家发货后可以在「我收到的礼物」里查看物流。"),
                "link": "/received/",
            }
        )
        for user in staff[gift.shop_id]:
            notes.append(
                {
                    "user": user,
                    "kind": Notification.Kind.TO_SHIP,
                    "dedupe_key": f"to_ship:{slot.pk}:{user.pk}",
                    "title": _("新的待发货礼物订单 #%(no)s：%(title)s") % {"no": slot.pk, "title": title},
                    "link": f"/merchant/gifts/slot/{slot.pk}/change/",
                }
            )
    return notes
