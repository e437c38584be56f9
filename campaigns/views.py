"""Pages for group lotteries, bulk gifts from a list and the sender's tracker. Each parses input,
calls one service and renders; the rules live in gifts/services/{lottery,bulk,tracker}.py."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.web import phone_step, with_step_status
from campaigns.services import bulk, lottery, tracker
from gifts.forms import AddressForm
from gifts.models import Gift
from gifts.selectors import card_face, gift_get_for_sender
from gifts.services.claim import AddressInput, claim_gift_get, slot_accept, slot_decline
from gifts.share import share_card
from gifts.throttles import claim_limits_check
from gifts.views import apply_error, saved_addresses, sku_rows
from giftshop.errors import AppError
from shops.selectors import product_get

# ----- lottery -----


class LotteryForm(forms.Form):
    sku_id = forms.IntegerField(widget=forms.RadioSelect)
    winners = forms.IntegerField(label=gettext_lazy("送出几份（中奖人数）"), min_value=1, initial=3)
    quantity = forms.IntegerField(label=gettext_lazy("每份件数"), min_value=1, initial=1)
    draw_at = forms.DateTimeField(
        label=gettext_lazy("开奖时间"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    allowed_usernames = forms.CharField(
        label=gettext_lazy("谁可以参加"),
        help_text=gettext_lazy("用户名，逗号或换行分隔；留空则拿到链接的人都可以参加"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "aria-describedby": "allowed-help"}),
    )
    message = forms.CharField(
        label=gettext_lazy("祝福语"), max_length=200, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean_allowed_usernames(self) -> list[str]:
        raw = self.cleaned_data["allowed_usernames"].replace("，", ",").replace("\n", ",")
        return [n.strip() for n in raw.split(",") if n.strip()]


@login_required
def lottery_new(request, pk: int):
    product = product_get(product_id=pk)
    rows, first_ok = sku_rows(product)
    default_draw = timezone.localtime() + timezone.timedelta(hours=2)
    form = LotteryForm(
        request.POST or None,
        initial={"sku_id": first_ok.pk if first_ok else None, "draw_at": default_draw.strftime("%Y-%m-%dT%H:%M")},
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            gift = lottery.lottery_create(
                sender=request.user,
                sku_id=d["sku_id"],
                winners=d["winners"],
                quantity=d["quantity"],
                draw_at=d["draw_at"],
                message=d["message"],
                allowed_usernames=d["allowed_usernames"],
            )
        except AppError as exc:
            apply_error(form, exc)
        else:
            return redirect(gift.payment.cashier_url)
    return render(request, "gifts/lottery_new.html", {"product": product, "sku_rows": rows, "form": form})


def _lottery_state(gift: Gift, card: dict, user) -> str:
    slot = card["your_slot"]

    def before() -> str:
        if card["drawn"]:
            return "lost" if card["entered"] else "closed"
        if card["entered"]:
            return "entered"
        if gift.draw_at <= timezone.now():
            return "closed"
        return "enter" if card["invited"] else "not_invited"

    return card_face(gift=gift, user=user, slot_status=slot["status"] if slot else None, ready="won", before=before)


def _share(request, card: dict, title: str | None = None) -> dict:
    return share_card(
        request,
        sender_name=card["sender"],
        message=card["message"],
        image_url=card["product"]["image_url"],
        title=title,
    )


def lottery_page(request, token: str):
    """The lottery link: enter before the draw; after it, winners fill an address, others are told."""
    gift = claim_gift_get(token=token)
    if gift.mode != Gift.Mode.LOTTERY:
        return redirect("claim", token)
    user = request.user
    form = AddressForm(request.POST or None)
    step = None
    if not user.is_authenticated:
        step = phone_step(request, next_url=request.path)
        if step.response is not None:
            return step.response
        form.is_bound = False
    if user.is_authenticated:
        lottery.lottery_open(gift=gift, user=user)
        if request.method == "POST":
            action = request.POST.get("action")
            if action in ("enter", "accept", "decline"):
                claim_limits_check(request)  # the API's limits: over one, the error page (429)
            try:
                if action == "enter":
                    lottery.lottery_enter(gift=gift, user=user)
                    messages.success(request, _("已参加抽奖，开奖后会通知你"))
                    return redirect("lottery", token)
                if action == "decline":
                    slot_decline(gift=gift, user=user)
                    messages.info(request, _("已放弃这份礼物，款项将原路退回给送礼人"))
                    return redirect("lottery", token)
                if action == "accept" and form.is_valid():
                    d = form.cleaned_data
                    slot_accept(
                        gift=gift,
                        user=user,
                        address=AddressInput.from_dict(d),
                        sku_id=d.get("sku_id"),
                        save_address=d.get("save_address", False),
                    )
                    messages.success(request, _("已收下礼物！商家发货后可在「我收到的礼物」查看物流"))
                    return redirect("lottery", token)
            except AppError as exc:
                if action == "accept":
                    apply_error(form, exc)
                else:
                    messages.error(request, exc.detail)
        form.is_bound = form.is_bound and request.POST.get("action") == "accept"
    card = lottery.lottery_card(gift=gift, user=user)
    return with_step_status(
        render(
            request,
            "gifts/lottery.html",
            {
                "gift": gift,
                "card": card,
                "share": _share(
                    request, card, title=_("%(sender)s 送你一份礼物 · 群礼物抽奖") % {"sender": card["sender"]}
                ),
                "form": form,
                "state": _lottery_state(gift, card, user),
                "saved_addresses": saved_addresses(user),
                "step": step,
                "next": request.path,
            },
        ),
        step,
    )


# ----- bulk -----


class BulkForm(forms.Form):
    sku_id = forms.IntegerField(widget=forms.RadioSelect)
    quantity = forms.IntegerField(label=gettext_lazy("每人件数"), min_value=1, initial=1)
    file = forms.FileField(label=gettext_lazy("名单文件（CSV：姓名, 手机号或邮箱, 备注）"), required=False)
    csv_text = forms.CharField(
        label=gettext_lazy("或直接粘贴名单"),
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 6, "placeholder": gettext_lazy("张三,13812345678,市场部\n李四,lisi@example.com,")}
        ),
    )
    message = forms.CharField(
        label=gettext_lazy("祝福语"), max_length=200, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            raw = upload.read(bulk.MAX_CSV_CHARS * 3 + 1)
            for encoding in ("utf-8-sig", "gb18030"):  # spreadsheets in China often save CSV as GBK
                try:
                    data["csv_text"] = raw.decode(encoding)
                    break
                except UnicodeDecodeError:
                    continue
            else:
                raise forms.ValidationError(_("无法识别文件编码，请另存为 UTF-8 CSV"))
        if not data.get("csv_text", "").strip():
            raise forms.ValidationError(_("请上传名单文件或粘贴名单"))
        return data


@login_required
def bulk_new(request, pk: int):
    product = product_get(product_id=pk)
    rows, first_ok = sku_rows(product)
    form = BulkForm(request.POST or None, request.FILES or None, initial={"sku_id": first_ok.pk if first_ok else None})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            order = bulk.bulk_order_create(
                sender=request.user,
                sku_id=d["sku_id"],
                csv_text=d["csv_text"],
                quantity=d["quantity"],
                message=d["message"],
            )
        except AppError as exc:
            apply_error(form, exc)
        else:
            return redirect("bulk-order", order.pk)
    return render(request, "gifts/bulk_new.html", {"product": product, "sku_rows": rows, "form": form})


@login_required
def bulk_order(request, pk: int):
    """Progress while workers check the list, the per-row report, then one payment for all."""
    order = bulk.bulk_order_get_for_sender(order_id=pk, user=request.user)
    if request.method == "POST" and request.POST.get("action") == "checkout":
        try:
            gift = bulk.bulk_checkout(order=order, sender=request.user)
        except AppError as exc:
            messages.error(request, exc.detail)
            return redirect("bulk-order", pk)
        return redirect(gift.payment.cashier_url)
    errors = list(bulk.bulk_errors(order=order)[:500])
    return render(
        request,
        "gifts/bulk_order.html",
        {"order": order, "progress": bulk.bulk_progress(order=order), "errors": errors},
    )


class CodeForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("验证码"), max_length=12)


def _bulk_state(card: dict, user, gift: Gift) -> str:
    if card["taken_by_other"] and user.is_authenticated and gift.sender_id != user.pk:
        return "taken"
    ready = "fill_address" if card["verified"] else "verify"
    return card_face(gift=gift, user=user, slot_status=card["status"], ready=ready)


def bulk_claim(request, token: str):
    """A personal link from a list. The named person proves it with a code sent to their phone or email."""
    row = bulk.bulk_row_get(token=token)
    gift = row.slot.gift
    bulk.bulk_open(row=row)
    user = request.user
    form = AddressForm(request.POST or None)
    code_form = CodeForm(request.POST if request.POST.get("action") == "verify" else None)
    step = None
    if not user.is_authenticated:
        # Signing in with the listed number's SMS code is the proof: no account to register first.
        step = phone_step(request, next_url=request.path)
        if step.response is not None:
            return step.response
    elif request.method == "GET" and bulk.bulk_verify_by_phone(row=row, user=user):
        row = bulk.bulk_row_get(token=token)
    if user.is_authenticated and request.method == "POST":
        action = request.POST.get("action")
        if action in ("send_code", "verify", "accept", "decline"):
            claim_limits_check(request)  # the API's limits: over one, the error page (429)
        try:
            if action == "send_code":
                bulk.bulk_code_send(row=row, user=user)
                messages.info(request, _("验证码已发送到 %(contact)s") % {"contact": row.contact_masked})
                return redirect("bulk-claim", token)
            if action == "verify" and code_form.is_valid():
                bulk.bulk_code_verify(row=row, user=user, code=code_form.cleaned_data["code"])
                messages.success(request, _("身份已确认，请填写收货地址"))
                return redirect("bulk-claim", token)
            if action == "decline":
                slot_decline(gift=gift, user=user, slot_token=token)
                messages.info(request, _("已婉拒这份礼物，款项将原路退回给送礼人"))
                return redirect("bulk-claim", token)
            if action == "accept" and form.is_valid():
                d = form.cleaned_data
                slot_accept(
                    gift=gift,
                    user=user,
                    address=AddressInput.from_dict(d),
                    sku_id=d.get("sku_id"),
                    slot_token=token,
                    save_address=d.get("save_address", False),
                )
                messages.success(request, _("已收下礼物！商家发货后可在「我收到的礼物」查看物流"))
                return redirect("bulk-claim", token)
        except AppError as exc:
            target = {"accept": form, "verify": code_form}.get(action)
            if target is not None:
                apply_error(target, exc)
            else:
                messages.error(request, exc.detail)
    form.is_bound = form.is_bound and request.POST.get("action") == "accept"
    row = bulk.bulk_row_get(token=token)
    card = bulk.bulk_card(row=row, user=user)
    return with_step_status(
        render(
            request,
            "gifts/bulk_claim.html",
            {
                "gift": gift,
                "card": card,
                "share": _share(request, card),
                "form": form,
                "code_form": code_form,
                "state": _bulk_state(card, user, gift),
                "step": step,
                "next": request.path,
                "saved_addresses": saved_addresses(user),
            },
        ),
        step,
    )


# ----- the sender's tracker -----


@login_required
def tracker_page(request, pk: int):
    gift = gift_get_for_sender(gift_id=pk, user=request.user)
    summary = tracker.tracker_summary(gift=gift)
    page = Paginator(tracker.tracker_slots(gift=gift), 100).get_page(request.GET.get("page"))
    claimable = gift.status in ("sent", "partly_claimed", "claimed")
    rows = [tracker.tracker_row(slot, gift=gift, claimable=claimable) for slot in page.object_list]
    stages = [(s, tracker.STAGE_LABELS[s], summary["counts"][s]) for s in tracker.STAGES]
    funnel = [(s, tracker.STAGE_LABELS[s], summary["funnel"][s]) for s in tracker.FUNNEL]
    return render(
        request,
        "gifts/tracker.html",
        {"gift": gift, "summary": summary, "stages": stages, "funnel": funnel, "rows": rows, "page": page},
    )


@login_required
def tracker_csv(request, pk: int):
    gift = gift_get_for_sender(gift_id=pk, user=request.user)
    response = StreamingHttpResponse(tracker.tracker_csv(gift=gift), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="gift-{gift.pk}-tracker.csv"'
    return response


@login_required
@require_POST
def tracker_resend(request, pk: int, slot_id: int):
    gift = gift_get_for_sender(gift_id=pk, user=request.user)
    try:
        row = bulk.bulk_link_resend(gift=gift, slot_id=slot_id)
    except AppError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("已重新发送给 %(name)s") % {"name": row.name})
    return redirect("gift-tracker", pk)
