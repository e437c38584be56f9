"""Server-rendered pages for senders and recipients. Each parses input, calls one service, renders."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST

from accounts.web import phone_step, with_step_status
from gifts import modes, poster
from gifts.forms import AddressForm, CheckoutForm, ThanksForm
from gifts.models import GIFT_UNPAID, Gift, GiftStatus, SlotStatus
from gifts.regions import region_tree
from gifts.selectors import (
    card_face,
    claim_card,
    gift_get_for_sender,
    gift_takers,
    gifts_for_sender,
    slot_get_for_recipient,
    slots_for_gift,
    slots_received,
)
from gifts.services import checkout as checkout_service
from gifts.services import claim as claim_service
from gifts.services import sender as sender_service
from gifts.services.notifications import notification_mark_read, notification_open
from gifts.share import share_card
from gifts.throttles import claim_limits_check
from giftshop.errors import AppError
from payments.selectors import refund_totals_for_gift
from shops.eligibility import sku_eligibility
from shops.selectors import product_get


def apply_error(form, exc: AppError) -> None:
    """Show a service's refusal on a form: its detail on top, field messages beside their fields."""
    form.add_error(None, exc.detail)
    for field, errs in (exc.fields or {}).items():
        if field in form.fields:
            for err in errs if isinstance(errs, list) else [errs]:
                form.add_error(field, str(err))


def sku_rows(product) -> tuple[list, object]:
    """Each SKU with its eligibility, and the first one that can be gifted (the sheet's default)."""
    rows = [(s, sku_eligibility(s)) for s in product.skus.all()]
    return rows, next((s for s, e in rows if e.eligible), None)


def saved_addresses(user) -> list:
    return list(user.saved_addresses.all()[:5]) if user.is_authenticated else []


@login_required
def checkout(request, pk: int):
    product = product_get(product_id=pk)
    rows, first_ok = sku_rows(product)
    form = CheckoutForm(request.POST or None, initial={"sku_id": first_ok.pk if first_ok else None})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        mode = d["mode"]
        try:
            gift = checkout_service.gift_create(
                sender=request.user,
                sku_id=d["sku_id"],
                mode=mode,
                recipients=(d["recipients"] or 1) if mode == Gift.Mode.GROUP else 1,
                quantity=d["quantity"],
                message=d["message"],
                recipient_username=d["recipient_username"],
                allow_sku_choice=d["allow_sku_choice"],
                expected_price_fen=d["expected_price_fen"],
            )
        except AppError as exc:
            apply_error(form, exc)
        else:
            return redirect(gift.payment.cashier_url)
    return render(request, "gifts/checkout.html", {"product": product, "sku_rows": rows, "form": form})


@login_required
def gift_list(request):
    gifts = list(gifts_for_sender(user=request.user)[:100])
    return render(request, "gifts/gift_list.html", {"gifts": gifts})


@login_required
def gift_detail(request, pk: int):
    gift = gift_get_for_sender(gift_id=pk, user=request.user)
    slots = list(slots_for_gift(gift=gift))
    unpaid = gift.status in GIFT_UNPAID
    for slot in slots:
        slot.steps = [] if unpaid else _steps(slot, SENDER_STEPS)  # a cancelled order has no journey
    unclaimed = 0 if unpaid else sum(1 for slot in slots if slot.status == SlotStatus.UNCLAIMED)
    refunds = refund_totals_for_gift(gift_id=gift.pk)
    return render(
        request,
        "gifts/gift_detail.html",
        {
            "gift": gift,
            "slots": slots,
            "unclaimed": unclaimed,
            "unclaimed_fen": unclaimed * gift.slot_amount_fen,
            **refunds,
            "paid_net_fen": gift.amount_fen - refunds["refunded_fen"],
        },
    )


@login_required
@require_POST
def gift_withdraw(request, pk: int):
    try:
        sender_service.gift_withdraw(gift_id=pk, user=request.user)
        messages.success(request, _("已撤回未领取的份数，退款将原路退回"))
    except AppError as exc:
        messages.error(request, exc.detail)
    return redirect("gift-detail", pk=pk)


@login_required
@require_POST
def gift_remind(request, pk: int):
    try:
        n = sender_service.gift_remind(gift_id=pk, user=request.user)
        if n:
            messages.success(request, ngettext("已提醒 %(n)d 位朋友", "已提醒 %(n)d 位朋友", n) % {"n": n})
        else:
            messages.info(
                request, _("没有要提醒的朋友：领了礼物的朋友都已收下，或还没有人领。把礼物卡片再发给朋友吧。")
            )
    except AppError as exc:
        messages.error(request, exc.detail)
    return redirect("gift-detail", pk=pk)


@login_required
def gift_card(request, pk: int):
    gift = gift_get_for_sender(gift_id=pk, user=request.user)
    mode = modes.of(gift)
    if not mode.shares_claim_link:  # e.g. a bulk list: each person on it has a personal link
        return redirect(mode.sender_page(gift))
    claim_url = request.build_absolute_uri(gift.claim_path())
    return render(
        request, "gifts/card.html", {"gift": gift, "claim_url": claim_url, "paid": gift.status != "pending_payment"}
    )


@login_required
@cache_control(private=True, max_age=3600)
def gift_qr(request, pk: int):
    gift = gift_get_for_sender(gift_id=pk, user=request.user)
    if not modes.of(gift).shares_claim_link:
        raise Http404
    img = qrcode.make(
        request.build_absolute_uri(gift.claim_path()), image_factory=qrcode.image.svg.SvgPathImage, box_size=8
    )
    buf = io.BytesIO()
    img.save(buf)
    return HttpResponse(buf.getvalue(), content_type="image/svg+xml")


@login_required
@cache_control(private=True, max_age=3600)
def gift_poster(request, pk: int):
    """The share poster, for the gift's sender only (anyone else: 404, like a missing gift)."""
    gift = gift_get_for_sender(gift_id=pk, user=request.user)
    if not modes.of(gift).shares_claim_link or gift.status in (GiftStatus.PENDING_PAYMENT, GiftStatus.CANCELLED):
        raise Http404
    png = poster.gift_poster_png(gift=gift, claim_url=request.build_absolute_uri(gift.claim_path()))
    response = HttpResponse(png, content_type="image/png")
    response["Content-Disposition"] = f'inline; filename="gift-{gift.pk}-poster.png"'
    return response


def claim(request, token: str):
    """The blue envelope. Anyone with the link sees the card; acting on it needs an account, which
    an anonymous recipient gets on the card itself: phone number, SMS code, and on to the address."""
    gift = claim_service.claim_gift_get(token=token)
    mode = modes.of(gift)
    if not mode.shares_claim_link:
        raise Http404  # e.g. a bulk list: each person has a personal link; the gift's token opens nothing
    if mode.claim_view != "claim":
        return redirect(gift.claim_path())  # e.g. a lottery's own page
    user = request.user
    step = None
    if not user.is_authenticated:
        step = phone_step(request, next_url=request.path)
        if step.response is not None:
            return step.response  # signed in: back to the card, which now asks for the address
    form = AddressForm(request.POST or None)
    thanks_form = None
    if user.is_authenticated:
        claim_service.claim_open(gift=gift, user=user)
        if request.method == "POST":
            action = request.POST.get("action")
            if action in ("grab", "accept", "decline"):
                claim_limits_check(request)  # the API's limits: over one, the error page (429)
            try:
                if action == "grab":
                    claim_service.slot_grab(gift=gift, user=user)
                    messages.success(request, _("抢到啦！填写地址即可收下礼物"))
                    return redirect("claim", token)
                if action == "decline":
                    claim_service.slot_decline(gift=gift, user=user)
                    if gift.mode == Gift.Mode.GROUP:
                        messages.info(request, _("这份礼物已回到群里，留给其他人"))
                    else:
                        messages.info(request, _("已婉拒这份礼物，款项将原路退回给送礼人"))
                    return redirect("claim", token)
                if action == "accept" and form.is_valid():
                    d = form.cleaned_data
                    claim_service.slot_accept(
                        gift=gift,
                        user=user,
                        address=claim_service.AddressInput.from_dict(d),
                        sku_id=d.get("sku_id"),
                        save_address=d.get("save_address", False),
                    )
                    messages.success(request, _("已收下礼物！商家发货后你可以在「我收到的礼物」里查看物流"))
                    return redirect("claim", token)
            except AppError as exc:
                apply_error(form, exc)
        form.is_bound = form.is_bound and request.POST.get("action") == "accept"
    else:
        form.is_bound = False
    card = claim_card(gift=gift, user=user)
    mine = claim_service.slot_for_recipient(gift=gift, user=user)
    if mine is not None and mine.status not in (SlotStatus.UNCLAIMED, SlotStatus.DECLINED):
        thanks_form = ThanksForm(initial={"thanks": mine.thanks})
    saved = saved_addresses(user)
    state = _claim_state(gift, card, mine, user)
    return with_step_status(
        render(
            request,
            "gifts/claim.html",
            {
                "gift": gift,
                "card": card,
                "share": share_card(
                    request,
                    sender_name=card["sender"],
                    message=card["message"],
                    image_url=card["product"]["image_url"],
                ),
                "form": form,
                "mine": mine,
                # The 款式 the recipient switched to, which the card shows in place of the one paid for.
                "chosen_sku": mine.sku if mine is not None and mine.sku_id != gift.sku_id else None,
                "mine_steps": _steps(mine, RECIPIENT_STEPS) if mine is not None else [],
                # A group member who took a share sees who else did, as a group chat shows it.
                "takers": gift_takers(gift=gift) if gift.mode == Gift.Mode.GROUP and mine is not None else [],
                "thanks_form": thanks_form,
                "saved_addresses": saved,
                "state": state,
                "step": step,
                "next": request.path,
                # The envelope starts sealed where the recipient still has something to do.
                "sealed": state in ("sign_in", "grab", "fill_address"),
                "faded": state in ("all_taken", "taken", "expired", "not_yours", "declined", "refunded"),
            },
        ),
        step,
    )


# Progress shown as steps: (label, how far each slot status has got). Statuses that end a slot
# early (declined, expired, refunded) have no place on the line and show no steps.
# Labels stay Chinese here and are translated where templates/gifts/_steps.html shows them.
SENDER_STEPS = (
    gettext_noop("已送出"),
    gettext_noop("已打开"),
    gettext_noop("已收下"),
    gettext_noop("已发货"),
    gettext_noop("已签收"),
)
RECIPIENT_STEPS = (gettext_noop("已收下"), gettext_noop("待发货"), gettext_noop("已发货"), gettext_noop("已签收"))
_REACHED = {
    SENDER_STEPS: {"accepted": 2, "processing": 2, "to_ship": 2, "shipped": 3, "delivered": 4},
    RECIPIENT_STEPS: {"accepted": 0, "processing": 0, "to_ship": 1, "shipped": 2, "delivered": 3},
}


def _steps(slot, labels: tuple[str, ...]) -> list[dict]:
    if slot.status == SlotStatus.UNCLAIMED and labels is SENDER_STEPS:
        reached = 1 if slot.opened_at else 0
    else:
        reached = _REACHED[labels].get(slot.status)
    if reached is None:
        return []
    return [{"label": label, "done": i <= reached, "current": i == reached} for i, label in enumerate(labels)]


def _claim_state(gift: Gift, card: dict, mine, user) -> str:
    """Which face of the card to show (the shared link of a single or group gift)."""
    group = gift.mode == Gift.Mode.GROUP

    def before() -> str:
        if gift.expires_at and gift.expires_at <= timezone.now() or gift.status == "expired":
            return "expired"
        if not card["for_you"]:
            return "not_yours"
        if card["slots_left"] == 0:
            return "all_taken" if group else "taken"
        return "grab" if group else "fill_address"

    return card_face(gift=gift, user=user, slot_status=mine.status if mine else None, before=before)


@login_required
def received(request):
    slots = list(slots_received(user=request.user).prefetch_related("shipment__tracking")[:100])
    for slot in slots:
        slot.steps = _steps(slot, RECIPIENT_STEPS)
    return render(request, "gifts/received.html", {"slots": slots, "thanks_form": ThanksForm()})


@login_required
@require_POST
def thanks(request, pk: int):
    slot = slot_get_for_recipient(slot_id=pk, user=request.user)
    form = ThanksForm(request.POST)
    if form.is_valid():
        try:
            claim_service.slot_thank(slot=slot, user=request.user, text=form.cleaned_data["thanks"])
            messages.success(request, _("答谢已送达"))
        except AppError as exc:
            messages.error(request, exc.detail)
    else:
        messages.error(request, _("答谢内容须在 1 到 200 字之间"))
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        return redirect(next_url)
    return redirect("received")


@login_required
def inbox(request):
    notes = list(request.user.notifications.all()[:50])
    if request.method == "POST":
        notification_mark_read(user=request.user)
        return redirect("inbox")
    return render(request, "gifts/inbox.html", {"notes": notes})


@login_required
def inbox_open(request, pk: int):
    """A notice opened from the inbox: read now, and on to where it leads."""
    try:
        link = notification_open(user=request.user, notification_id=pk)
    except AppError as exc:
        raise Http404(exc.detail) from exc
    if link and url_has_allowed_host_and_scheme(link, {request.get_host()}, require_https=request.is_secure()):
        return redirect(link)
    return redirect("inbox")


@cache_control(public=True, max_age=86400)
def regions_json(request):
    """Province -> city -> districts, for the address form's cascading selects."""
    return JsonResponse(region_tree(), json_dumps_params={"ensure_ascii": False})
