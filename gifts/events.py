"""The audit trail's one writer: a function per kind of act, so no call site spells a kind.

Status changes are written by the state modules themselves (`gifts.states`) with the same kinds.
"""

from __future__ import annotations

from .models import GiftEvent

K = GiftEvent.Kind


def _event(
    kind: str, *, gift_id: int, slot_id: int | None = None, actor=None, data: dict | None = None, to_status: str = ""
) -> GiftEvent:
    return GiftEvent.objects.create(
        gift_id=gift_id, slot_id=slot_id, kind=kind, actor=actor, data=data or {}, to_status=to_status
    )


def gift_created_event(*, gift, actor, units: int) -> GiftEvent:
    data = {"units": units, "amount_fen": gift.amount_fen}
    return _event(K.CREATED, gift_id=gift.pk, actor=actor, data=data, to_status=gift.status)


def grab_released_event(*, slot, actor) -> GiftEvent:
    return _event(K.GRAB_RELEASED, gift_id=slot.gift_id, slot_id=slot.pk, actor=actor)


def thanks_event(*, slot, actor) -> GiftEvent:
    return _event(K.THANKS, gift_id=slot.gift_id, slot_id=slot.pk, actor=actor)


def waybill_issued_event(*, slot, carrier: str, waybill_no: str) -> GiftEvent:
    return _event(
        K.WAYBILL_ISSUED, gift_id=slot.gift_id, slot_id=slot.pk, data={"carrier": carrier, "waybill_no": waybill_no}
    )


def waybill_cancelled_event(*, slot_id: int, gift_id: int, carrier: str, waybill_no: str, outcome: str) -> GiftEvent:
    data = {"carrier": carrier, "waybill_no": waybill_no, "outcome": outcome}
    return _event(K.WAYBILL_CANCELLED, gift_id=gift_id, slot_id=slot_id, data=data)


def waybills_issued_events(rows) -> None:
    """`waybill_issued_event` for a batch of (slot, carrier, waybill_no), in one statement."""
    GiftEvent.objects.bulk_create(
        GiftEvent(
            gift_id=slot.gift_id,
            slot_id=slot.pk,
            kind=K.WAYBILL_ISSUED,
            data={"carrier": carrier, "waybill_no": waybill_no},
        )
        for slot, carrier, waybill_no in rows
    )


def after_sales_event(*, slot, actor, reason: str) -> GiftEvent:
    return _event(K.AFTER_SALES, gift_id=slot.gift_id, slot_id=slot.pk, actor=actor, data={"reason": reason})


def lottery_drawn_event(*, gift_id: int, data: dict) -> GiftEvent:
    return _event(K.LOTTERY_DRAWN, gift_id=gift_id, data=data)


def link_resent_event(*, slot, actor) -> GiftEvent:
    return _event(K.LINK_RESENT, gift_id=slot.gift_id, slot_id=slot.pk, actor=actor)


def bulk_verified_event(*, gift_id: int, slot_id: int, actor) -> GiftEvent:
    return _event(K.BULK_VERIFIED, gift_id=gift_id, slot_id=slot_id, actor=actor)


def message_refused_event(*, slot, channel: str, template: str, code: str) -> GiftEvent:
    """A message to a recipient that the provider refused for good (never its text or parameters)."""
    data = {"channel": channel, "template": template, "code": code}
    return _event(K.MESSAGE_REFUSED, gift_id=slot.gift_id, slot_id=slot.pk, data=data)


def refund_requested_events(refunds) -> None:
    """One row per refund, in one statement (the expiry sweep asks for hundreds at once)."""
    GiftEvent.objects.bulk_create(
        GiftEvent(
            gift_id=r.payment.gift_id,
            slot_id=r.slot_id,
            kind=K.REFUND_REQUESTED,
            data={"out_refund_no": r.out_refund_no, "amount_fen": r.amount_fen, "reason": r.reason},
        )
        for r in refunds
    )
