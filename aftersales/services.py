"""After-sales rules, following WeChat Shop's:

- Only the parcel's recipient opens a request, one at a time per parcel.
- 仅退款 (refund only): before the parcel ships, or when it never arrived (shipped, or marked
  delivered but not received: reason `not_received`, within the return window).
- 退货退款 (return and refund): after delivery, within `AFTER_SALES_RETURN_WINDOW` (7 days).
- The shop's owner or manager approves or refuses (with a reason) by `answer_by`
  (`AFTER_SALES_ANSWER_WINDOW`, 48 h); no answer means approved (beat, `after_sales_deadlines_sweep`).
- A return: the recipient sends it back and enters the waybill (the shop's return address is shown
  only to them); the shop confirms receipt, or beat does `AFTER_SALES_RECEIVE_WINDOW` after the
  recipient sent it.
- The money goes back to the sender, for what the sender paid for this parcel, once: the refund
  key is per parcel (payments.services.refund_request), so a second approval cannot pay twice.
  Stock returns on a refund before shipping.
- The sender sees the request's status, never the address; recipient and sender are notified at
  each step, the shop's staff when something waits for them.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from fulfilment.services.shipments import slot_refund_after_sales
from gifts.models import Notification, Slot, SlotStatus
from gifts.services.notifications import notify
from giftshop.errors import AppError, NotFound
from giftshop.logs import bind
from payments.models import Refund
from shops.models import ShopStaff
from shops.permissions import Action, staff_require

from . import error_codes as E
from .models import AfterSalesPhoto, AfterSalesRequest
from .states import after_sales_transition

log = logging.getLogger(__name__)

R = AfterSalesRequest
S = AfterSalesRequest.Status

MAX_PHOTOS = 3
PHOTO_MAX_BYTES = 5 * 1024 * 1024
PHOTO_MAX_PIXELS = 40_000_000
PHOTO_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True)
class Photo:
    """A checked upload: its bytes and what they are."""

    data: bytes
    content_type: str


def photos_check(files) -> list[Photo]:
    """At most three JPEG, PNG or WebP pictures of at most 5 MB each; anything else is refused with
    a field error (a file that is not an image, a decompression bomb, a truncated file)."""
    files = list(files or [])
    if len(files) > MAX_PHOTOS:
        raise AppError(E.BAD_PHOTO, _("最多上传 3 张照片"), fields={"photos": [_("最多上传 3 张照片")]})
    checked = []
    for upload in files:
        if upload.size > PHOTO_MAX_BYTES:
            raise AppError(E.BAD_PHOTO, _("照片不能超过 5 MB"), fields={"photos": [_("照片不能超过 5 MB")]})
        data = upload.read()
        checked.append(Photo(data=data, content_type=_image_type(data)))
    return checked


def _image_type(data: bytes) -> str:
    refused = AppError(E.BAD_PHOTO, _("请上传 JPG、PNG 或 WebP 格式的照片"), fields={"photos": [_("不是可用的图片")]})
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in PHOTO_TYPES:
                raise refused
            width, height = image.size
            if width * height > PHOTO_MAX_PIXELS:
                raise refused
            image.verify()
            return PHOTO_TYPES[image.format]
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        raise refused from None


# ----- the recipient -----


def after_sales_open(
    *, slot_id: int, user, kind: str, reason: str, detail: str = "", photos: list[Photo] = ()
) -> AfterSalesRequest:
    """Open a request on a parcel this user received. Refused when one is open, out of its window,
    or when the parcel's state does not allow this kind."""
    if kind not in R.Kind.values:
        raise AppError(E.INVALID, _("请选择售后类型"), fields={"kind": [_("仅退款或退货退款")]})
    if reason not in R.Reason.values:
        raise AppError(E.INVALID, _("请选择售后原因"), fields={"reason": [_("请选择一个原因")]})
    now = timezone.now()
    with transaction.atomic():
        slot = (
            Slot.objects.select_for_update(of=("self",))
            .select_related("gift__payment", "gift__shop")
            .filter(pk=slot_id, recipient=user)
            .first()
        )
        if slot is None:
            raise NotFound(_("订单不存在"))
        bind(gift_id=slot.gift_id, slot_id=slot.pk)
        if R.objects.filter(slot=slot, status__in=R.OPEN).exists():
            raise AppError(E.AFTER_SALES_OPEN, _("这份礼物已有一个正在处理的售后申请"))
        _check_eligible(slot, kind=kind, reason=reason, now=now)
        amount = slot.gift.slot_amount_fen - _refunded_fen(slot)
        if amount <= 0:
            raise AppError(E.NOT_ELIGIBLE, _("这份礼物已经全额退款"))
        try:
            with transaction.atomic():
                request = R.objects.create(
                    slot=slot,
                    shop_id=slot.gift.shop_id,
                    requested_by=user,
                    kind=kind,
                    reason=reason,
                    detail=detail.strip()[:500],
                    amount_fen=amount,
                    answer_by=now + settings.AFTER_SALES_ANSWER_WINDOW,
                )
        except IntegrityError:
            raise AppError(E.AFTER_SALES_OPEN, _("这份礼物已有一个正在处理的售后申请")) from None
        for photo in photos:
            record = AfterSalesPhoto(request=request, content_type=photo.content_type)
            record.image.save("photo", ContentFile(photo.data), save=True)
        _notify_staff(
            request,
            key="requested",
            title=_("新的售后申请：%(kind)s · 礼物 #%(slot)s") % {"kind": request.get_kind_display(), "slot": slot.pk},
            body=_("请在 %(deadline)s 前处理，超时将自动同意。")
            % {"deadline": timezone.localtime(request.answer_by).strftime("%m-%d %H:%M")},
        )
        _notify_sender(
            request, key="requested", title=_("收礼人申请了售后：%(kind)s") % {"kind": request.get_kind_display()}
        )
    log.info("after-sales opened request=%s kind=%s", request.pk, kind)
    return request


def after_sales_possible(slot: Slot) -> bool:
    """Whether the page should offer the form at all (the kind and window are checked on submit)."""
    return slot.status in (SlotStatus.TO_SHIP, SlotStatus.SHIPPED, SlotStatus.DELIVERED)


def _check_eligible(slot: Slot, *, kind: str, reason: str, now) -> None:
    if slot.status not in (SlotStatus.TO_SHIP, SlotStatus.SHIPPED, SlotStatus.DELIVERED):
        raise AppError(E.NOT_ELIGIBLE, _("这份礼物当前不能申请售后"))
    window_closed = slot.delivered_at is not None and now > slot.delivered_at + settings.AFTER_SALES_RETURN_WINDOW
    if kind == R.Kind.RETURN_REFUND:
        if slot.status != SlotStatus.DELIVERED:
            raise AppError(E.NOT_ELIGIBLE, _("签收后才能退货退款；还没收到可以申请仅退款"))
        if window_closed:
            raise AppError(E.WINDOW_CLOSED, _("已超过签收后 7 天的售后期限"))
        return
    if slot.status == SlotStatus.DELIVERED:
        if reason != R.Reason.NOT_RECEIVED:
            raise AppError(E.NOT_ELIGIBLE, _("包裹已签收，请申请退货退款"))
        if window_closed:
            raise AppError(E.WINDOW_CLOSED, _("已超过签收后 7 天的售后期限"))


def _refunded_fen(slot: Slot) -> int:
    return Refund.objects.filter(slot=slot).aggregate(total=Sum("amount_fen"))["total"] or 0


def after_sales_cancel(*, request_id: int, user) -> AfterSalesRequest:
    """The recipient withdraws a request the shop has not acted on yet."""
    request = _for_recipient(request_id=request_id, user=user)
    # An approved return not sent back yet may be withdrawn too; an approved refund is on its way.
    allowed = [S.REQUESTED] + ([S.APPROVED] if request.kind == R.Kind.RETURN_REFUND else [])
    request, changed = after_sales_transition(request, S.CANCELLED, expect=allowed)
    if changed:
        _notify_staff(
            request, key="cancelled", title=_("收礼人撤销了售后申请：礼物 #%(slot)s") % {"slot": request.slot_id}
        )
    return request


def after_sales_return_shipment(*, slot_id: int, user, carrier: str, tracking_no: str) -> AfterSalesRequest:
    """The recipient sent the parcel back: record the waybill; the shop has until `receive_by`."""
    carrier, tracking_no = (carrier or "").strip(), (tracking_no or "").strip().upper()
    fields = {}
    if not carrier or len(carrier) > 40:
        fields["carrier"] = [_("请填写快递公司")]
    if not (6 <= len(tracking_no) <= 40) or not tracking_no.replace("-", "").isalnum():
        fields["tracking_no"] = [_("请填写正确的运单号（6–40 位字母或数字）")]
    if fields:
        raise AppError(E.INVALID, _("请检查退货运单信息"), fields=fields)
    with transaction.atomic():
        request = (
            R.objects.select_for_update()
            .filter(slot_id=slot_id, slot__recipient=user, kind=R.Kind.RETURN_REFUND, status__in=R.OPEN)
            .first()
        )
        if request is None or request.status not in (S.APPROVED, S.RETURNING):
            raise AppError(E.NOT_ELIGIBLE, _("商家同意退货后才能填写退货运单"))
        if request.status == S.RETURNING:
            if (request.return_carrier, request.return_tracking_no) == (carrier, tracking_no):
                return request  # the same waybill again: nothing changes
            request.return_carrier, request.return_tracking_no = carrier, tracking_no
            request.save(update_fields=["return_carrier", "return_tracking_no"])
            return request
        request, _changed = after_sales_transition(
            request,
            S.RETURNING,
            return_carrier=carrier,
            return_tracking_no=tracking_no,
            receive_by=timezone.now() + settings.AFTER_SALES_RECEIVE_WINDOW,
        )
        _notify_staff(
            request,
            key="returning",
            title=_("售后退货已寄出：礼物 #%(slot)s") % {"slot": request.slot_id},
            body=_("%(carrier)s %(no)s，收到后请确认收货。") % {"carrier": carrier, "no": tracking_no},
        )
    return request


def _for_recipient(*, request_id: int, user) -> AfterSalesRequest:
    request = R.objects.filter(pk=request_id, slot__recipient=user).first()
    if request is None:
        raise NotFound(_("售后申请不存在"))
    return request


# ----- the shop -----


def _may_answer(request: AfterSalesRequest, actor) -> None:
    """Money goes out: owners and managers may, shippers may not; operators may. `actor` None is
    the rule itself (a deadline passed)."""
    if actor is not None:
        staff_require(user=actor, shop_id=request.shop_id, action=Action.AFTER_SALES)


def after_sales_approve(*, request_id: int, actor=None) -> AfterSalesRequest:
    """Approve (the shop, or beat when the deadline passed). Refund only: the sender is refunded at
    once. Return and refund: the recipient is shown where to send the parcel."""
    with transaction.atomic():
        request = R.objects.select_for_update(of=("self",)).select_related("slot__gift").get(pk=request_id)
        bind(gift_id=request.slot.gift_id, slot_id=request.slot_id)
        _may_answer(request, actor)
        if request.status in (S.APPROVED, S.RETURNING, S.RECEIVED, S.REFUNDED):
            return request  # approved already (a double tap, or beat and the merchant at once)
        request, changed = after_sales_transition(request, S.APPROVED, answered_by=actor)
        if not changed:
            return request
        auto = actor is None
        if request.kind == R.Kind.REFUND_ONLY:
            _refund(request, actor=actor)
            title = _("售后已同意，退款将原路退回给送礼人")
        else:
            title = _("售后已同意，请把商品寄回商家")
        if auto:
            title = _("商家超时未处理，售后已自动同意") + "：" + title
        _notify_recipient(request, key="approved", title=title)
        _notify_sender(request, key="approved", title=_("收礼人的售后申请已同意"))
    return request


def after_sales_refuse(*, request_id: int, actor, reason: str) -> AfterSalesRequest:
    reason = (reason or "").strip()
    if not reason:
        raise AppError(E.INVALID, _("请填写拒绝理由"), fields={"reason": [_("请填写拒绝理由")]})
    with transaction.atomic():
        request = R.objects.select_for_update().get(pk=request_id)
        _may_answer(request, actor)
        request, changed = after_sales_transition(
            request, S.REFUSED, expect=[S.REQUESTED], answered_by=actor, refuse_reason=reason[:200]
        )
        if changed:
            _notify_recipient(
                request, key="refused", title=_("商家拒绝了售后申请"), body=_("理由：%(reason)s") % {"reason": reason}
            )
            _notify_sender(request, key="refused", title=_("收礼人的售后申请被商家拒绝"))
    return request


def after_sales_receive(*, request_id: int, actor=None) -> AfterSalesRequest:
    """The returned parcel arrived (the shop says so, or beat after `receive_by`): refund the sender."""
    with transaction.atomic():
        request = R.objects.select_for_update(of=("self",)).select_related("slot__gift").get(pk=request_id)
        _may_answer(request, actor)
        if request.status in (S.RECEIVED, S.REFUNDED):
            return request
        request, _changed = after_sales_transition(request, S.RECEIVED, expect=[S.RETURNING])
        _refund(request, actor=actor)
        _notify_recipient(request, key="received", title=_("商家已收到退货，退款将原路退回给送礼人"))
    return request


def _refund(request: AfterSalesRequest, *, actor) -> None:
    """Ask for the sender's money back, once per parcel, and link the refund to the request. When
    the parcel's after-sales refund exists already (the merchant refunded it directly), use it."""
    refund = slot_refund_after_sales(
        slot=request.slot, actor=actor, reason=request.get_reason_display(), authorised=True
    )
    if refund is None:
        refund = Refund.objects.filter(slot_id=request.slot_id, reason=Refund.Reason.AFTER_SALES).first()
    if refund is None:
        return
    request.refund = refund
    request.save(update_fields=["refund"])
    if refund.status == Refund.Status.SUCCEEDED:
        after_sales_refunded(refund=refund)


def after_sales_refunded(*, refund: Refund) -> int:
    """The parcel's after-sales refund settled: every open request on it is done. Runs inside the
    payments transaction (receivers.py); safe to run twice."""
    if not refund.slot_id or refund.reason != Refund.Reason.AFTER_SALES:
        return 0
    done = 0
    for request in R.objects.filter(slot_id=refund.slot_id, status__in=R.OPEN).select_related("slot__gift"):
        request, changed = after_sales_transition(request, S.REFUNDED, refund=refund)
        if changed:
            done += 1
            _notify_recipient(request, key="refunded", title=_("售后完成：退款已原路退回给送礼人"))
    return done


def after_sales_deadlines_sweep(*, limit: int = 200) -> dict[str, int]:
    """Beat: requests the shop did not answer in time are approved; returns the shop did not confirm
    in time are received (and refunded). Each one in its own transaction; a row another process
    holds is left for the next run."""
    now = timezone.now()
    counts = {"approved": 0, "received": 0}
    due_answers = R.objects.filter(status=S.REQUESTED, answer_by__lte=now).order_by("answer_by")
    for pk in list(due_answers.values_list("pk", flat=True)[:limit]):
        counts["approved"] += _by_rule(after_sales_approve, pk)
    due_receipts = R.objects.filter(status=S.RETURNING, receive_by__lte=now).order_by("receive_by")
    for pk in list(due_receipts.values_list("pk", flat=True)[:limit]):
        counts["received"] += _by_rule(after_sales_receive, pk)
    return counts


def _by_rule(step, pk: int) -> int:
    try:
        step(request_id=pk, actor=None)
    except AppError as error:
        log.warning("after-sales deadline step refused request=%s code=%s", pk, error.code)
        return 0
    return 1


# ----- notices -----


def _about(request: AfterSalesRequest, body: str = "") -> str:
    """Every notice names the gift it is about."""
    sku = request.slot.sku
    line = _("礼物：%(product)s · %(sku)s") % {"product": sku.product.title, "sku": sku.label}
    return f"{line}\n{body}" if body else line


def _notify_recipient(request: AfterSalesRequest, *, key: str, title: str, body: str = "") -> None:
    notify(
        user=request.requested_by,
        kind=Notification.Kind.AFTER_SALES,
        dedupe_key=f"after_sales:{request.pk}:{key}:r",
        title=title,
        body=_about(request, body),
        link=reverse("after-sales", args=[request.slot_id]),
    )


def _notify_sender(request: AfterSalesRequest, *, key: str, title: str) -> None:
    gift = request.slot.gift
    notify(
        user=gift.sender,
        kind=Notification.Kind.AFTER_SALES,
        dedupe_key=f"after_sales:{request.pk}:{key}:s",
        title=title,
        body=_about(request),
        link=gift.get_absolute_url(),
    )


def _notify_staff(request: AfterSalesRequest, *, key: str, title: str, body: str = "") -> None:
    for member in ShopStaff.objects.filter(shop_id=request.shop_id).select_related("user"):
        notify(
            user=member.user,
            kind=Notification.Kind.AFTER_SALES,
            dedupe_key=f"after_sales:{request.pk}:{key}:{member.user_id}",
            title=title,
            body=_about(request, body),
            link=reverse("merchant:wb-after-sales"),
        )
