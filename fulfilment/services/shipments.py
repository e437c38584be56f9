"""From to-ship to delivered: e-waybills, manual shipping, courier tracking, after-sales refunds."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext as _

from fulfilment import error_codes as E
from fulfilment.carriers import (
    Parcel,
    Waybill,
    carrier,
    carrier_cancelling,
    carrier_drivable,
    parcel_reference,
    parcel_reference_slot,
)
from fulfilment.models import Shipment, TrackingEvent
from fulfilment.selectors import merchant_slot_get, merchant_slots
from fulfilment.states import (
    shipment_cancel,
    shipment_cancel_fail,
    shipment_fail,
    shipment_hand_over,
    shipment_issue,
)
from gifts.events import after_sales_event, waybill_cancelled_event, waybill_issued_event
from gifts.models import Notification, Slot, SlotStatus
from gifts.services.notifications import notify
from gifts.states import slot_transition
from giftshop.errors import AppError, NotFound
from giftshop.logs import bind
from outbox.jobs import enqueue
from payments.models import Refund
from payments.services import refund_request
from privacy.models import PiiAccessLog
from privacy.services import pii_access_record
from shops.models import ShopStaff, Sku
from shops.permissions import Action, staff_require
from shops.services import stock_release

log = logging.getLogger(__name__)

# What a scan of a cancelled waybill is answered (taken, and changes nothing).
SCAN_IGNORED = "waybill_cancelled"

# How far along each tracking status puts a slot; updates only ever move a slot forward.
_TRACKING_TARGET = {
    "collected": SlotStatus.SHIPPED,
    "in_transit": SlotStatus.SHIPPED,
    "delivered": SlotStatus.DELIVERED,
}


def waybill_obtain(*, slot_id: int) -> Shipment | None:
    """Get an e-waybill for a to-ship slot. Exactly one waybill per slot however often this runs:
    the Shipment row is created first and the carrier call carries the slot's idempotency key.

    The row stays locked from the last look at the slot until the answer is recorded: a refund that
    comes meanwhile finds the row and queues its cancel (`slot_refund_after_sales`), which waits
    for this lock and so sees the number the courier answered. A slot refunded before is not sent."""
    slot = Slot.objects.select_related("gift__sender", "gift__shop", "sku__product", "address").get(pk=slot_id)
    bind(gift_id=slot.gift_id, slot_id=slot.pk)
    if slot.status != SlotStatus.TO_SHIP or slots_not_shippable([slot.pk]):
        return None
    courier = carrier()
    try:
        with transaction.atomic():
            shipment, _ = Shipment.objects.get_or_create(
                slot=slot, defaults={"carrier": courier.name, "shop_id": slot.gift.shop_id}
            )
    except IntegrityError:
        shipment = Shipment.objects.get(slot=slot)
    if shipment.waybill_no or shipment.status == Shipment.Status.CANCELLED:
        return shipment
    Shipment.objects.filter(pk=shipment.pk).update(attempts=shipment.attempts + 1)
    pii_access_record(user=None, slots=[slot], channel=PiiAccessLog.Channel.CARRIER)
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().get(pk=shipment.pk)
        if shipment.waybill_no or shipment.status == Shipment.Status.CANCELLED:
            return shipment
        if slots_not_shippable([slot.pk]):  # refunded since the first look
            return None
        issued = courier.create_waybill(slot_parcel(slot))
        waybill = issued if isinstance(issued, Waybill) else Waybill(number=issued)
        if shipment_issue(
            shipment,
            waybill_no=waybill.number,
            company=waybill.company,
            label_url=waybill.label_url,
            order_no=waybill.order_no,
        ):
            waybill_issued_event(slot=slot, carrier=shipment.carrier, waybill_no=waybill.number)
            if hasattr(courier, "subscribe_tracking"):
                # Push tracking, asked for separately so a courier outage only delays it.
                enqueue("fulfilment.tasks.subscribe_tracking", shipment.pk)
            log.info("waybill issued")
    return shipment


def slots_not_shippable(slot_ids: list[int]) -> set[int]:
    """Those of `slot_ids` that must not get a waybill now: no longer to ship, or their after-sales
    refund is asked for (the slot stays to-ship until the money is back)."""
    if not slot_ids:
        return set()
    gone = set(Slot.objects.filter(pk__in=slot_ids).exclude(status=SlotStatus.TO_SHIP).values_list("pk", flat=True))
    refunded = Refund.objects.filter(slot_id__in=slot_ids, reason=Refund.Reason.AFTER_SALES)
    return gone | set(refunded.values_list("slot_id", flat=True))


def tracking_subscribe(*, shipment_id: int) -> str:
    """Subscribe an issued waybill to its carrier's push tracking, once (safe to run twice)."""
    shipment = Shipment.objects.select_related("slot__address").get(pk=shipment_id)
    bind(slot_id=shipment.slot_id)
    if shipment.tracking_subscribed_at or not shipment.waybill_no:
        return "skipped"
    courier = carrier(shipment.carrier)
    if not hasattr(courier, "subscribe_tracking"):
        return "skipped"
    address = getattr(shipment.slot, "address", None)  # reverse one-to-one: None when missing
    phone = address.phone if address is not None else ""
    if phone:
        pii_access_record(user=None, slots=[shipment.slot], channel=PiiAccessLog.Channel.CARRIER)
    outcome = courier.subscribe_tracking(
        waybill_no=shipment.waybill_no,
        company=shipment.company,
        phone=phone,
        reference=parcel_reference(shipment.slot_id),
    )
    if outcome in ("subscribed", "already"):
        Shipment.objects.filter(pk=shipment.pk).update(tracking_subscribed_at=timezone.now())
    log.info("tracking subscription: %s", outcome)
    return outcome


def slot_parcel(slot: Slot) -> Parcel:
    """What the courier is told about a slot's parcel (one waybill call, or a batch's)."""
    address, shop = slot.address, slot.gift.shop
    return Parcel(
        request_key=parcel_reference(slot.pk),
        receiver_name=address.name,
        receiver_phone=address.phone,
        receiver_address=address.full(),
        receiver_region=address.region,
        sender_name=shop.ship_from_name or shop.name,
        description=f"{slot.sku.product.title} × {slot.gift.quantity}",
        company=shop.courier_company or settings.KUAIDI100_DEFAULT_COMPANY,
        sender_phone=shop.ship_from_phone,
        sender_address=shop.ship_from_address,
    )


def shipment_record_failure(*, slot_id: int, error: str, final: bool) -> None:
    """A dispatch attempt failed. A final failure is shown to the merchant and the operator."""
    with transaction.atomic():
        shipment, _ = Shipment.objects.get_or_create(
            slot_id=slot_id,
            defaults={
                "carrier": carrier().name,
                "shop_id": lambda: Slot.objects.values_list("gift__shop_id", flat=True).get(pk=slot_id),
            },
        )
        shipment_fail(Shipment.objects.select_for_update().get(pk=shipment.pk), error=error, final=final)
    log.warning("dispatch failed slot=%s final=%s error=%s", slot_id, final, error)


def slot_ship_manually(*, slot: Slot, carrier_name: str, tracking_no: str, actor) -> Slot:
    """The merchant ships with their own courier and types the tracking number. A number this shop
    already used (with that courier) is refused: a typo or a reused label. One another shop used is
    not this shop's business, and refusing it would tell that it exists: it is taken."""
    carrier_name, tracking_no = carrier_name.strip(), tracking_no.strip()
    if not carrier_name or not tracking_no or len(tracking_no) > 64:
        msg = gettext("请填写快递公司和运单号（不超过 64 个字符）")
        raise AppError("bad_tracking", msg, fields={"tracking_no": [msg]})
    with transaction.atomic():
        locked = Slot.objects.select_for_update(of=("self",)).select_related("gift").get(pk=slot.pk)
        if locked.status != SlotStatus.TO_SHIP:
            raise AppError(
                E.NOT_SHIPPABLE, gettext("订单当前状态为 %(status)s，不能发货") % {"status": locked.status_text}
            )
        if locked.refunds.filter(reason=Refund.Reason.AFTER_SALES).exists():
            raise AppError(E.REFUND_PENDING, gettext("该订单已发起售后退款，不能发货"))
        try:
            with transaction.atomic():
                shipment, _ = Shipment.objects.get_or_create(
                    slot=locked, defaults={"carrier": carrier_name, "shop_id": locked.gift.shop_id}
                )
                shipment = Shipment.objects.select_for_update().get(pk=shipment.pk)
                shipment_issue(shipment, waybill_no=tracking_no, carrier=carrier_name, replace=True)
        except IntegrityError as exc:
            raise AppError(E.DUPLICATE_TRACKING, gettext("这个运单号已经用于本店的另一个订单")) from exc
        slot_transition(
            locked, SlotStatus.SHIPPED, actor=actor, data={"carrier": carrier_name, "tracking_no": tracking_no}
        )
        _notify_shipped(locked, waybill=tracking_no)
    slot.status = locked.status
    return slot


# The titles of notices written before they named the gift: kept in the catalogue, so that those
# notices still read in the page's language (gifts/templatetags/notices.py).
_EARLIER_TITLES = (gettext_noop("你收下的礼物已发货"), gettext_noop("你送出的礼物已发货"))


def _notify_shipped(slot: Slot, *, waybill: str) -> None:
    """Tell the recipient (with the waybill, to follow the parcel) and the sender (without: the parcel's
    progress is on the gift's page) which gift is on its way. `waybill`: the parcel's, as the caller
    has it in hand."""
    gift = slot.gift
    title = Sku.objects.filter(pk=slot.sku_id).values_list("product__title", flat=True).first() or ""
    notify(
        user=slot.recipient,
        kind=Notification.Kind.SHIPPED,
        dedupe_key=f"shipped:{slot.pk}:recipient",
        title=_("你收下的礼物已发货：%(title)s") % {"title": title},
        body=_("运单号 %(waybill)s，可以在「我收到的礼物」里查看物流。") % {"waybill": waybill} if waybill else "",
        link="/received/",
    )
    notify(
        user=gift.sender,
        kind=Notification.Kind.SHIPPED,
        dedupe_key=f"shipped:{slot.pk}:sender",
        title=_("你送出的礼物已发货：%(title)s") % {"title": title},
        body=_("朋友很快就能收到，进度在礼物页上。"),
        link=gift.get_absolute_url(),
    )


def tracking_notification_handle(
    *, carrier_name: str, body: bytes, headers, query=None, ignore_unknown: bool = False
) -> str:
    """A courier's tracking push (`query`: the parameters of the URL it was posted to). It changes
    the one parcel it names (its reference), and only while that parcel still carries the pushed
    waybill with this courier: a waybill number alone names no parcel, two shops may use the same.
    `ignore_unknown`: a real courier pushes for waybills that are not ours (or no longer are) and
    pushes again until it gets its success answer: such a push is logged and taken, not refused."""
    try:
        notice = carrier(carrier_name).parse_notification(body=body, headers=headers, query=query or {})
    except (ValueError, OverflowError) as exc:  # signed, but a value we cannot take (giftshop.inputs)
        raise AppError(E.BAD_NOTIFICATION, f"Notification is malformed: {exc}") from exc
    try:
        slot_id = (
            parcel_reference_slot(notice.reference)
            if notice.reference
            else _only_parcel_with(carrier_name=carrier_name, waybill_no=notice.waybill_no)
        )
        if slot_id is None:
            raise NotFound("Unknown waybill.")
        return tracking_apply(
            slot_id=slot_id,
            event_id=notice.event_id,
            waybill_no=notice.waybill_no,
            status=notice.status,
            description=notice.description,
            occurred_at=notice.occurred_at,
        )
    except NotFound:
        if not ignore_unknown:
            raise
        log.warning("%s tracking push for a waybill we do not know: ignored", carrier_name)
        return "unknown_waybill"


def _only_parcel_with(*, carrier_name: str, waybill_no: str) -> int | None:
    """A push that names no parcel (sent before pushes carried one, or by a client of API 1.0): the
    parcel that carries this courier's waybill, when exactly one does; when several shops use the
    number it names none of them for sure, and changes nothing."""
    slots = list(
        Shipment.objects.filter(carrier=carrier_name, waybill_no=waybill_no)
        .exclude(waybill_no="")
        .values_list("slot_id", flat=True)[:2]
    )
    return slots[0] if len(slots) == 1 else None


def tracking_apply(
    *,
    slot_id: int,
    waybill_no: str,
    event_id: str,
    status: str,
    description: str,
    occurred_at: str,
) -> str:
    """Record a tracking update of one parcel (the slot's shipment, if it still carries this waybill
    number; under whatever courier name: a merchant who shipped by hand typed the courier's) once, and move the slot forward if it says so. Late or out-of-order updates
    are recorded for the timeline but never move a slot backwards. An exception (refused, returned,
    problem parcel) is told to the shop's staff.

    A scan of a waybill we cancelled (the parcel was refunded before it shipped) is no progress of
    this parcel: nothing is recorded or moved, and it is answered as taken ("waybill_cancelled"), so
    the courier stops pushing it."""
    try:
        occurred = parse_datetime(occurred_at) or timezone.now()
    except ValueError:  # a well-formed but impossible date: when we heard of it
        occurred = timezone.now()
    with transaction.atomic():
        shipment = (
            Shipment.objects.select_for_update()
            .filter(slot_id=slot_id, waybill_no=waybill_no)
            .exclude(waybill_no="")
            .first()
        )
        if shipment is None:
            raise NotFound("Unknown waybill.")
        if shipment.status == Shipment.Status.CANCELLED:
            # Only ids and our status name: the courier's text may carry the address.
            log.warning("tracking scan of a cancelled waybill ignored slot=%s status=%s", slot_id, status)
            return SCAN_IGNORED
        try:
            with transaction.atomic():
                TrackingEvent.objects.create(
                    shipment=shipment, event_id=event_id, status=status, description=description, occurred_at=occurred
                )
        except IntegrityError:
            return "duplicate"
        target = _TRACKING_TARGET.get(status)
        if target is not None and shipment.status == Shipment.Status.ISSUED:
            shipment_hand_over(shipment, at=occurred)  # the courier has it, whether or not anyone tapped
        slot = Slot.objects.select_related("gift").get(pk=shipment.slot_id)
        if status == "exception":
            _notify_tracking_exception(slot, shipment=shipment, description=description, event_id=event_id)
        if target is None:
            return "recorded"
        if slot.status == SlotStatus.TO_SHIP:
            slot_transition(slot, SlotStatus.SHIPPED, data={"event_id": event_id})
            _notify_shipped(slot, waybill=shipment.waybill_no)
        if target == SlotStatus.DELIVERED and slot.status == SlotStatus.SHIPPED:
            slot_transition(slot, SlotStatus.DELIVERED, data={"event_id": event_id})
            notify(
                user=slot.gift.sender,
                kind=Notification.Kind.DELIVERED,
                dedupe_key=f"delivered:{slot.pk}",
                title=_("你送出的礼物已签收"),
                link=slot.gift.get_absolute_url(),
            )
    return "applied"


def _notify_tracking_exception(slot: Slot, *, shipment: Shipment, description: str, event_id: str) -> None:
    """The courier reports a problem (疑难, 拒签, 退回, 退签): the shop's staff should act."""
    for member in ShopStaff.objects.filter(shop_id=slot.gift.shop_id).select_related("user"):
        notify(
            user=member.user,
            kind=Notification.Kind.SHIPPING_EXCEPTION,
            dedupe_key=f"tracking_exception:{event_id}:{member.user_id}"[:120],
            title=_("物流异常 #%(no)s：%(waybill)s") % {"no": slot.pk, "waybill": shipment.waybill_no},
            body=description,
            link=f"/merchant/parcels/{slot.pk}/",
        )


# The parcels an after-sales refund can still reach: accepted and handed to the shop, not refunded.
AFTER_SALES_REFUNDABLE = (SlotStatus.TO_SHIP, SlotStatus.SHIPPED, SlotStatus.DELIVERED)


def slot_refund_after_sales(*, slot: Slot, actor, reason: str = "", authorised: bool = False) -> Refund | None:
    """After-sales: refund a slot; the money goes back to the sender. The merchant's direct refund
    checks the role here; an after-sales request (`authorised`) was checked by its own rules."""
    with transaction.atomic():
        # FOR NO KEY UPDATE: rows that point at the slot (a dispatch's event and PII log) may still
        # be written meanwhile, so waiting for a dispatch's shipment row below cannot deadlock.
        locked = (
            Slot.objects.select_for_update(of=("self",), no_key=True).select_related("gift__payment").get(pk=slot.pk)
        )
        if locked.status not in AFTER_SALES_REFUNDABLE:
            raise AppError(E.NOT_REFUNDABLE, gettext("该订单当前不能售后退款"))
        gift = locked.gift
        if not authorised:
            staff_require(user=actor, shop_id=gift.shop_id, action=Action.REFUND)
        already = sum(r.amount_fen for r in locked.refunds.all())
        amount = gift.slot_amount_fen - already
        after_sales_event(slot=locked, actor=actor, reason=reason)
        refund = refund_request(payment=gift.payment, slot=locked, amount_fen=amount, reason=Refund.Reason.AFTER_SALES)
        if refund is not None and locked.status == SlotStatus.TO_SHIP:
            _stock_release_unshipped(locked)
            _waybill_cancel_queue(locked)
        return refund


def _stock_release_unshipped(slot: Slot) -> None:
    """Refunded before it left the warehouse: the units go back on sale (once: one after-sales
    refund per slot)."""
    stock_release(sku_id=slot.sku_id, quantity=slot.gift.quantity)


def _waybill_cancel_queue(slot: Slot) -> None:
    """Refunded before it left the shop: the e-waybill is taken back (`waybill_cancel`, a job
    recorded with the refund). The parcel's shipment row is made if it has none, so no waybill is
    asked for afterwards; making it waits for a dispatch batch that is making it at this moment (the
    same unique slot), so the cancel that follows sees the number that batch got."""
    shipment, _ = Shipment.objects.get_or_create(
        slot=slot, defaults={"carrier": settings.CARRIER_PROVIDER, "shop_id": slot.gift.shop_id}
    )
    if shipment.status in CANCELLABLE:
        enqueue("fulfilment.tasks.cancel_waybill", shipment.pk)


CANCELLABLE = (Shipment.Status.REQUESTED, Shipment.Status.ISSUED, Shipment.Status.FAILED)
CANCELLED, REFUSED, GAVE_UP = "cancelled", "refused", "failed"


def waybill_cancel(*, shipment_id: int) -> str:
    """Take back the e-waybill of a parcel refunded before it shipped, once however often this runs.

    The shipment stays locked through the courier's answer, as a dispatch keeps it through its own:
    a dispatch in flight finishes first, and its number is the one cancelled. A shipment without a
    number is cancelled here (no waybill will be asked for). A temporary failure raises
    ProviderUnavailable (the task asks again); a refusal (the courier has the parcel, or cannot
    cancel) is kept on the shipment and told to the shop's staff once, to stop the parcel by hand."""
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().get(pk=shipment_id)
        slot = Slot.objects.select_related("gift").get(pk=shipment.slot_id)
        bind(gift_id=slot.gift_id, slot_id=slot.pk)
        if shipment.status == Shipment.Status.CANCELLED:
            return ALREADY
        if not slots_not_shippable([slot.pk]):
            return "skipped"  # the parcel is to ship after all: nothing to take back
        if shipment.status == Shipment.Status.HANDED_OVER:
            return _cancel_refused(shipment, slot=slot, detail=gettext("包裹已交给快递"))
        if not shipment.waybill_no:
            shipment_cancel(shipment)
            log.info("waybill cancelled before one was issued")
            return CANCELLED
        courier = carrier_cancelling(shipment.carrier)
        if courier is None:
            return _cancel_refused(shipment, slot=slot, detail=gettext("这个快递不能在线取消面单"))
        try:
            outcome = courier.cancel_waybill(
                waybill_no=shipment.waybill_no,
                company=shipment.company,
                reference=parcel_reference(slot.pk),
                order_no=shipment.courier_order_no,
            )
        except AppError as exc:
            return _cancel_refused(shipment, slot=slot, detail=f"{exc.code}: {exc.detail}")
        shipment_cancel(shipment)
        waybill_cancelled_event(
            slot_id=slot.pk,
            gift_id=slot.gift_id,
            carrier=shipment.carrier,
            waybill_no=shipment.waybill_no,
            outcome=outcome,
        )
    log.info("waybill cancelled: %s", outcome)
    return CANCELLED


def waybill_cancel_give_up(*, shipment_id: int, error: str) -> str:
    """Every try to take back the e-waybill failed (the courier did not answer until the task, or
    the outbox, gave up): the shipment keeps the failure, and the shop's staff are told once to
    cancel the waybill in the courier's own console and not to send the parcel. Safe to run twice;
    nothing to do for a shipment cancelled or handed over since."""
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().get(pk=shipment_id)
        bind(slot_id=shipment.slot_id)
        if shipment.status not in CANCELLABLE or not shipment.waybill_no:
            return ALREADY if shipment.status == Shipment.Status.CANCELLED else "skipped"
        if shipment_cancel_fail(shipment, error=f"{E.CANCEL_FAILED}: {error}"):
            courier = shipment.courier_label
            _notify_cancel_problem(
                shipment,
                key="waybill_cancel_failed",
                body=_(
                    "这个包裹已经退款，但%(courier)s一直没有回应取消电子面单的请求，系统已多次重试并停止。"
                    "请登录%(courier)s的商家后台手动取消运单 %(waybill)s，并且不要发出这个包裹。"
                )
                % {"courier": courier, "waybill": shipment.waybill_no},
            )
    log.error("waybill cancel gave up slot=%s error=%s", shipment.slot_id, error)
    return GAVE_UP


def _notify_cancel_problem(shipment: Shipment, *, key: str, body: str) -> None:
    """Tell each of the shop's staff, once per shipment and kind of problem, on the parcel's page."""
    for member in ShopStaff.objects.filter(shop_id=shipment.shop_id).select_related("user"):
        notify(
            user=member.user,
            kind=Notification.Kind.SHIPPING_EXCEPTION,
            dedupe_key=f"{key}:{shipment.pk}:{member.user_id}",
            title=_("面单取消失败 #%(no)s：%(waybill)s") % {"no": shipment.slot_id, "waybill": shipment.waybill_no},
            body=body,
            link=f"/merchant/parcels/{shipment.slot_id}/",
        )


def _cancel_refused(shipment: Shipment, *, slot: Slot, detail: str) -> str:
    """The courier will not take the waybill back: the shop's staff must stop the parcel."""
    shipment_cancel_fail(shipment, error=f"{E.CANCEL_REFUSED}: {detail}")
    _notify_cancel_problem(
        shipment,
        key="waybill_cancel_refused",
        body=_("这个包裹已经退款，快递没有取消它的电子面单（%(detail)s）。请联系快递拦截，不要发出。")
        % {"detail": detail},
    )
    log.warning("waybill cancel refused slot=%s", slot.pk)
    return REFUSED


# ----- handing parcels to the courier, and driving the sandbox courier -----

HANDED_OVER, ALREADY = "handed_over", "already"


@dataclass
class HandOverReport:
    """What a batch 交给快递 did, parcel by parcel (a refusal never undoes the others)."""

    handed_over: list[int] = field(default_factory=list)
    already: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (slot id, reason)


def parcels_hand_over(*, user, slot_ids: Iterable[int]) -> HandOverReport:
    """Staff hand parcels whose e-waybill the courier's API issued to the courier: each moves to
    shipped (the recipient and sender are told) in its own transaction; tapping twice changes
    nothing. Any parcel that is not of the user's shops fails the whole request like a missing one."""
    ids = list(dict.fromkeys(int(i) for i in slot_ids))
    shops = dict(merchant_slots(user=user).filter(pk__in=ids).values_list("pk", "gift__shop_id"))
    if not ids or len(shops) != len(ids):
        raise NotFound(gettext("订单不存在"))
    for shop_id in set(shops.values()):
        staff_require(user=user, shop_id=shop_id, action=Action.SHIP)
    report = HandOverReport()
    for slot_id in ids:
        try:
            outcome = _hand_over_one(slot_id=slot_id, actor=user)
        except AppError as exc:
            report.refused.append((slot_id, str(exc.detail)))
        else:
            (report.handed_over if outcome == HANDED_OVER else report.already).append(slot_id)
    return report


def _hand_over_one(*, slot_id: int, actor) -> str:
    with transaction.atomic():
        # Shipment first, then slot: the same lock order as a courier's tracking push.
        shipment = Shipment.objects.select_for_update().filter(slot_id=slot_id).first()
        slot = Slot.objects.select_for_update(of=("self",)).select_related("gift").get(pk=slot_id)
        if shipment is not None and shipment.status == Shipment.Status.HANDED_OVER:
            return ALREADY
        if shipment is not None and shipment.status == Shipment.Status.CANCELLED:
            raise AppError(E.WAYBILL_CANCELLED, gettext("电子面单已取消，不能交给快递"))
        if shipment is None or shipment.status != Shipment.Status.ISSUED or not shipment.waybill_no:
            raise AppError(E.NO_WAYBILL, gettext("还没有电子面单，不能交给快递"))
        if slot.status in (SlotStatus.SHIPPED, SlotStatus.DELIVERED):
            shipment_hand_over(shipment, by=actor)  # the courier's scan came first
            return ALREADY
        if slot.status != SlotStatus.TO_SHIP:
            raise AppError(
                E.NOT_SHIPPABLE, gettext("订单当前状态为 %(status)s，不能交给快递") % {"status": slot.status_text}
            )
        if slot.refunds.filter(reason=Refund.Reason.AFTER_SALES).exists():
            raise AppError(E.REFUND_PENDING, gettext("该订单已发起售后退款，不能发货"))
        shipment_hand_over(shipment, by=actor)
        slot_transition(
            slot,
            SlotStatus.SHIPPED,
            actor=actor,
            data={"handed_over": True, "carrier": shipment.carrier, "waybill_no": shipment.waybill_no},
            expect=[SlotStatus.TO_SHIP],
        )
        _notify_shipped(slot, waybill=shipment.waybill_no)
    log.info("parcel handed over slot=%s", slot_id)
    return HANDED_OVER


# Scans that need the parcel in the courier's hands first: handed over (交给快递) or picked up (揽收).
NEEDS_HANDOVER = ("in_transit", "delivered")
PICKED_UP = "collected"  # the courier's pickup scan (揽收): it hands the parcel over by itself


def shipment_drive_choices(*, shipment: Shipment, statuses) -> tuple[str, ...]:
    """The scans a person may make by hand on this parcel now (the buttons offered)."""
    if shipment.status == Shipment.Status.CANCELLED:
        return ()
    if shipment.status == Shipment.Status.HANDED_OVER:
        return tuple(s for s in statuses if s != PICKED_UP)  # the courier has it: no second pickup
    return tuple(s for s in statuses if s not in NEEDS_HANDOVER)


def shipment_drive(*, shipment: Shipment, status: str) -> str:
    """Move a parcel of a courier that may be driven by hand (the sandbox's): the courier scans it
    and notifies us, signed, through the same webhook as its own scans. Not found when the courier
    cannot be driven on this site."""
    courier = carrier_drivable(shipment.carrier)
    if courier is None or not shipment.waybill_no:
        raise AppError(E.NOT_DRIVABLE, gettext("这个快递不能手动推进"))
    if status not in courier.drive_statuses:
        raise AppError(
            "invalid", "Some fields are invalid.", fields={"status": [f"one of {', '.join(courier.drive_statuses)}"]}
        )
    current = Shipment.objects.filter(pk=shipment.pk).values_list("status", flat=True).first()
    if current == Shipment.Status.CANCELLED:
        raise AppError(E.WAYBILL_CANCELLED, gettext("电子面单已取消，快递不会再扫描这个包裹"))
    if status in NEEDS_HANDOVER and current != Shipment.Status.HANDED_OVER:
        # A parcel the shop never handed over (交给快递) or the courier never picked up (揽收)
        # cannot be on its way or signed for.
        raise AppError(E.NOT_HANDED_OVER, _("包裹还没有交给快递（揽收），不能标记运输中或签收"))
    outcome = courier.drive(waybill_no=shipment.waybill_no, status=status, reference=parcel_reference(shipment.slot_id))
    log.info("parcel driven by hand slot=%s status=%s outcome=%s", shipment.slot_id, status, outcome)
    return outcome


def parcel_drive(*, user, slot_id: int, status: str) -> str:
    """A shop's staff move their own sandbox parcel (another shop's is not found)."""
    slot = merchant_slot_get(user=user, slot_id=slot_id)
    staff_require(user=user, shop_id=slot.gift.shop_id, action=Action.SHIP)
    shipment = getattr(slot, "shipment", None)
    if shipment is None:
        raise AppError(E.NOT_DRIVABLE, gettext("这个订单还没有运单"))
    return shipment_drive(shipment=shipment, status=status)
