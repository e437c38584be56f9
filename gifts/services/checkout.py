"""Send-to-friend checkout: validate, reserve stock, create the gift and its slots, open a prepay order."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.services.phones import account_for_phone, looks_like_phone, phone_normalize
from gifts import error_codes as E
from gifts.events import gift_created_event
from gifts.models import Gift, Slot
from giftshop.errors import AppError
from giftshop.logs import bind
from payments.services import payment_open
from shops.eligibility import OUT_OF_STOCK as OUT_OF_STOCK_REASON
from shops.eligibility import REASON_TEXT, sku_eligibility
from shops.models import Sku
from shops.selectors import sku_get
from shops.services import stock_reserve

log = logging.getLogger(__name__)


def quantity_validate(quantity: int) -> None:
    if not 1 <= quantity <= settings.GIFT_MAX_QUANTITY:
        msg = gettext("每人份数须在 1 到 %(max)s 之间") % {"max": settings.GIFT_MAX_QUANTITY}
        raise AppError(E.BAD_QUANTITY, msg, fields={"quantity": [msg]})


def _validate_shape(*, mode: str, recipients: int, quantity: int) -> None:
    if mode not in (Gift.Mode.SINGLE, Gift.Mode.GROUP):  # lotteries and lists have their own checkouts
        raise AppError(E.BAD_MODE, "mode: single | group", fields={"mode": ["single | group"]})
    quantity_validate(quantity)
    if mode == Gift.Mode.SINGLE and recipients != 1:
        msg = gettext("送给一位朋友时人数只能是 1")
        raise AppError(E.BAD_RECIPIENTS, msg, fields={"recipients": [msg]})
    if mode == Gift.Mode.GROUP and not 2 <= recipients <= settings.GIFT_MAX_RECIPIENTS:
        msg = gettext("群发礼物人数须在 2 到 %(max)s 之间") % {"max": settings.GIFT_MAX_RECIPIENTS}
        raise AppError(E.BAD_RECIPIENTS, msg, fields={"recipients": [msg]})


def sku_check_giftable(*, sku_id: int, units: int) -> Sku:
    """The SKU if `units` of it may be gifted now, else the refusal every checkout gives."""
    sku = sku_get(sku_id=sku_id)
    eligibility = sku_eligibility(sku, quantity=units)
    if eligibility.reasons == [OUT_OF_STOCK_REASON]:
        # Short stock is momentary, not a property of the SKU: the same code the guarded reserve gives.
        if sku.stock > 0:
            detail = gettext("库存不足：这个款式还剩 %(n)s 件，这份礼物要 %(units)s 件") % {
                "n": sku.stock,
                "units": units,
            }
        else:
            detail = gettext("库存不足：这个款式已售完")
        raise AppError(E.OUT_OF_STOCK, detail, fields={"reasons": eligibility.reasons})
    if not eligibility.eligible:
        raise AppError(
            E.NOT_ELIGIBLE,
            "；".join(REASON_TEXT[r] for r in eligibility.reasons),
            fields={"reasons": eligibility.reasons},
        )
    return sku


def gift_open(
    *,
    sender,
    sku: Sku,
    mode: str,
    recipients: int,
    quantity: int,
    message: str = "",
    named_recipient=None,
    allow_sku_choice: bool = False,
    draw_at=None,
) -> tuple[Gift, list[Slot]]:
    """What every checkout shares: reserve stock, create the gift with its slots up front and one
    prepay order at the gateway, in one transaction. Returns (gift, slots)."""
    units = quantity * recipients
    with transaction.atomic():
        stock_reserve(sku_id=sku.pk, quantity=units)
        gift = Gift.objects.create(
            sender=sender,
            shop=sku.product.shop,
            sku=sku,
            mode=mode,
            recipients_count=recipients,
            quantity=quantity,
            unit_price_fen=sku.price_fen,
            amount_fen=sku.price_fen * units,
            message=message.strip()[:200],
            named_recipient=named_recipient,
            allow_sku_choice=allow_sku_choice,
            pay_deadline=timezone.now() + settings.GIFT_PAYMENT_WINDOW,
            draw_at=draw_at,
        )
        slots = Slot.objects.bulk_create(
            [Slot(gift=gift, number=n, sku=sku) for n in range(1, recipients + 1)], batch_size=1000
        )
        payment_open(gift=gift, amount_fen=gift.amount_fen, description=f"礼物：{sku.product.title}")
        gift_created_event(gift=gift, actor=sender, units=units)
    bind(gift_id=gift.pk)
    log.info("gift created: %s units, %s fen", units, gift.amount_fen)
    return gift, slots


def gift_create(
    *,
    sender,
    sku_id: int,
    mode: str = Gift.Mode.SINGLE,
    recipients: int = 1,
    quantity: int = 1,
    message: str = "",
    recipient_username: str = "",
    recipient_phone: str = "",
    allow_sku_choice: bool = False,
    expected_price_fen: int | None = None,
) -> Gift:
    """Send to one friend or a group: create the gift awaiting payment. Stock is taken now, so
    concurrent orders never oversell.

    A single gift may name its recipient by username or by mobile number (`recipient_phone`, or a
    mobile number typed as the username): only that account may accept, and for a number the SMS
    code proves it; a number nobody has used yet gets its account now, taken over at the first code."""
    _validate_shape(mode=mode, recipients=recipients, quantity=quantity)
    named = None
    field = "recipient_phone" if recipient_phone else "recipient_username"
    if recipient_username or recipient_phone:
        if mode != Gift.Mode.SINGLE:
            msg = gettext("只有送给一位朋友时才能指定收礼人")
            raise AppError(E.BAD_RECIPIENTS, msg, fields={field: [msg]})
        if not recipient_phone:
            named = get_user_model().objects.filter(username=recipient_username, is_active=True).first()
            if named is None and looks_like_phone(recipient_username):
                recipient_phone = recipient_username
        if recipient_phone:
            try:
                phone = phone_normalize(recipient_phone)
            except AppError as exc:
                raise AppError(exc.code, exc.detail, fields={field: exc.fields["phone"]}) from exc
            named, _created = account_for_phone(phone, verified=False)
        if named is None:
            msg = gettext("找不到这位朋友的账号")
            raise AppError(E.UNKNOWN_RECIPIENT, msg, fields={field: [msg]})
        if named.pk == sender.pk:
            msg = gettext("不能把礼物指定送给自己")
            raise AppError(E.CANNOT_GIFT_SELF, msg, fields={field: [msg]})
    sku = sku_check_giftable(sku_id=sku_id, units=quantity * recipients)
    if expected_price_fen is not None and expected_price_fen != sku.price_fen:
        raise AppError(
            E.PRICE_CHANGED, gettext("价格已变化，请确认新价格后再下单"), fields={"price_fen": [str(sku.price_fen)]}
        )
    gift, _ = gift_open(
        sender=sender,
        sku=sku,
        mode=mode,
        recipients=recipients,
        quantity=quantity,
        message=message,
        named_recipient=named,
        allow_sku_choice=allow_sku_choice,
    )
    return gift
