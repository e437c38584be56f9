"""django-allauth's hooks: where phone numbers live (accounts.models.Phone) and how codes are sent.

allauth keeps a login code in the session in plain text; ours are hashed at rest and limited in the
shared cache (accounts/services/codes.py), so the phone code pages and API use our service and then
sign the person in through allauth's session machinery. These methods let allauth's own forms (the
password login by username or phone, the account pages) read and write the same numbers."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.models import Phone
from accounts.services.phones import phone_normalize, phone_set, user_by_phone
from giftshop.errors import AppError
from giftshop.sms import sms_sender


class MainlandPhoneField(forms.CharField):
    """allauth's phone fields take E.164 (+8613812345678); ours are 11-digit mainland mobiles."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("手机号"))
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}))
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return value
        try:
            return phone_normalize(value)
        except AppError as exc:
            raise ValidationError(str(exc.detail), code="bad_phone") from exc


class AccountAdapter(DefaultAccountAdapter):
    def phone_form_field(self, **kwargs):
        return MainlandPhoneField(**kwargs)

    def set_phone(self, user, phone: str, verified: bool) -> None:
        phone_set(user=user, phone=phone, verified=verified)

    def get_phone(self, user) -> tuple[str, bool] | None:
        row = Phone.objects.filter(user=user).first()
        return (row.number, row.verified) if row else None

    def set_phone_verified(self, user, phone: str) -> None:
        Phone.objects.filter(user=user, number=phone).update(verified=True)

    def get_user_by_phone(self, phone: str):
        return user_by_phone(phone)

    def send_verification_code_sms(self, user, phone: str, code: str, **kwargs) -> None:
        # Only reached by allauth's own phone verification flows (a number changed on the account page).
        sms_sender().send(phone=phone, template="login_code", params={"code": code, "minutes": "5"})


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """WeChat sign-in makes an account at once (no form): the openid is the account's key."""

    def is_auto_signup_allowed(self, request, sociallogin) -> bool:
        return True

    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        user.username = ""  # made unique by allauth; the nickname is the display name
        user.first_name = (data.get("name") or _("微信用户"))[:150]
        return user

    def get_app(self, request, provider, client_id=None):
        """WeChat has two apps: the official account inside WeChat's browser, the open platform's
        QR login elsewhere (settings "context" mp / web); pick the one for this browser."""
        provider_id = getattr(provider, "id", provider)
        if provider_id == "weixin" and client_id is None:
            from accounts.wechat.views import MP, WEB, app_context, in_wechat

            want = MP if in_wechat(request) else WEB
            apps = self.list_apps(request, provider=provider_id)
            for app in apps:
                if app_context(app) == want:
                    return app
        return super().get_app(request, provider, client_id=client_id)
