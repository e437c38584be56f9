"""The phone sign-in step shared by the pages (the login page, the claim, bulk and lottery cards).

A page passes its POST here when `action` is one of PHONE_ACTIONS; the step keeps the number and
the pending code's id in the session between requests, calls the code service, and on a valid code
signs the person in through django-allauth. With JavaScript the page polls `phone-code-status` to
say "已发送" once the SMS provider took the message, and counts down to the resend."""

from __future__ import annotations

from dataclasses import dataclass, field

from allauth.account.utils import perform_login
from django.urls import reverse

from accounts.forms import CodeForm, PhoneForm
from accounts.services import codes
from accounts.services.phones import phone_mask, phone_normalize
from giftshop.errors import AppError, Throttled

SESSION_KEY = "phone_sign_in"
PHONE_ACTIONS = ("phone_code", "phone_login", "phone_reset")


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


@dataclass
class PhoneStep:
    phone_form: PhoneForm
    code_form: CodeForm
    phone: str = ""
    masked: str = ""
    sent: bool = False
    retry_after: int = 0
    status_url: str = ""
    errors: list[str] = field(default_factory=list)
    response: object = None  # set once signed in: where allauth sends the person
    wechat: bool = False  # WeChat sign-in is set up for this browser (official account / QR login)
    throttled: bool = False  # beyond a limit: the page answers 429 with Retry-After, as the API does

    @property
    def pending(self) -> bool:
        return bool(self.phone)


def _apply(form, exc: AppError, step: PhoneStep) -> None:
    """The refusal on the page: its message above the form, and each field's under the field; a
    message already under its field is not said again above."""
    beside_fields = set()
    for name, errs in (exc.fields or {}).items():
        if name in form.fields:
            for err in errs:
                form.add_error(name, str(err))
                beside_fields.add(str(err))
    if str(exc.detail) not in beside_fields:
        step.errors.append(str(exc.detail))
    if isinstance(exc, Throttled):
        step.retry_after = exc.retry_after
        step.throttled = True


def wechat_available(request) -> bool:
    from allauth.socialaccount.adapter import get_adapter

    try:
        get_adapter(request).get_app(request, "weixin")
    except Exception:  # noqa: BLE001 (none set up, or none for this browser)
        return False
    return True


def phone_step(request, *, next_url: str) -> PhoneStep:
    """Handle this request's phone step (if it is one) and describe what to show next."""
    action = request.POST.get("action") if request.method == "POST" else None
    pending = request.session.get(SESSION_KEY) or {}
    phone_form = PhoneForm(request.POST if action == "phone_code" else None, initial={"phone": pending.get("phone")})
    code_form = CodeForm(request.POST if action == "phone_login" else None)
    step = PhoneStep(phone_form=phone_form, code_form=code_form, wechat=wechat_available(request))
    if action == "phone_reset":
        request.session.pop(SESSION_KEY, None)
        pending = {}
    elif action == "phone_code" and phone_form.is_valid():
        try:
            sent = codes.code_request(phone=phone_form.cleaned_data["phone"], ip=client_ip(request))
        except AppError as exc:
            _apply(phone_form, exc, step)
            recent = codes.code_recent(phone_form.cleaned_data["phone"]) if isinstance(exc, Throttled) else None
            if recent is not None:
                # No new code yet, but the one already on its way works (asked for on another device,
                # or before this page was reloaded): show its step, not the number again.
                pending = {"phone": phone_normalize(phone_form.cleaned_data["phone"]), "code_id": recent}
                request.session[SESSION_KEY] = pending
        else:
            pending = {"phone": sent.phone, "code_id": sent.code_id}
            request.session[SESSION_KEY] = pending
    elif action == "phone_login" and pending.get("phone") and code_form.is_valid():
        try:
            user, created = codes.code_verify(
                phone=pending["phone"], code=code_form.cleaned_data["code"], ip=client_ip(request)
            )
        except AppError as exc:
            _apply(code_form, exc, step)
        else:
            request.session.pop(SESSION_KEY, None)
            step.response = perform_login(request, user, redirect_url=next_url, signup=created)
            return step
    if pending.get("phone"):
        step.phone, step.masked = pending["phone"], phone_mask(pending["phone"])
        status = codes.code_status(code_id=pending.get("code_id") or 0, phone=pending["phone"])
        step.sent = status["sent"]
        step.retry_after = max(step.retry_after, status["retry_after"])
        step.status_url = reverse("phone-code-status")
    return step


def with_step_status(response, step: PhoneStep | None):
    """A page that showed a throttled phone step answers 429 with `Retry-After`."""
    if step is not None and step.throttled:
        response.status_code = 429
        response["Retry-After"] = str(max(1, step.retry_after))
    return response
