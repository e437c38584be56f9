"""Mainland mobile numbers and the account each one belongs to."""

from __future__ import annotations

import re
import secrets

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts import error_codes as E
from accounts.models import Phone
from giftshop.errors import AppError

MOBILE_RE = re.compile(r"1[3-9]\d{9}")
_SEPARATORS = re.compile(r"[\s\-()]")


def phone_normalize(raw: str) -> str:
    """`138 1234 5678`, `+86 13812345678` -> `13812345678`; anything else: field error `bad_phone`."""
    phone = _SEPARATORS.sub("", str(raw or ""))
    for prefix in ("+86", "0086", "86"):
        if phone.startswith(prefix) and len(phone) == len(prefix) + 11:
            phone = phone[len(prefix) :]
    if not MOBILE_RE.fullmatch(phone):
        raise AppError(
            E.BAD_PHONE, _("请输入 11 位中国大陆手机号"), fields={"phone": [_("请输入 11 位中国大陆手机号")]}
        )
    return phone


def looks_like_phone(raw: str) -> bool:
    try:
        phone_normalize(raw)
    except AppError:
        return False
    return True


def phone_mask(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) == 11 else "****"


def user_by_phone(phone: str):
    row = Phone.objects.select_related("user").filter(number=phone, user__is_active=True).first()
    return row.user if row else None


def _new_user(phone: str):
    """An account for a number: no password to invent (one can be set later), a neutral name."""
    User = get_user_model()
    user = User(username=f"m{secrets.token_hex(6)}", first_name=_("尾号%(tail)s") % {"tail": phone[-4:]})
    user.set_unusable_password()
    user.save()
    return user


def account_for_phone(phone: str, *, verified: bool) -> tuple[object, bool]:
    """The account of this number, made on first use. Returns (user, created).

    `verified=True` once the number was proven by a code; a sender naming a friend's number makes
    an unverified one, which becomes the friend's the first time they sign in with a code."""
    row = Phone.objects.select_related("user").filter(number=phone).first()
    if row is None:
        try:
            with transaction.atomic():
                user = _new_user(phone)
                row = Phone.objects.create(user=user, number=phone, verified=verified)
            return user, True
        except IntegrityError:  # the same number signed up a moment ago
            row = Phone.objects.select_related("user").get(number=phone)
    if verified and not row.verified:
        Phone.objects.filter(pk=row.pk).update(verified=True)
    return row.user, False


def phone_set(*, user, phone: str, verified: bool) -> Phone:
    """Attach (or change) the account's number; a number another account holds is refused."""
    if Phone.objects.filter(number=phone).exclude(user=user).exists():
        raise AppError(E.PHONE_TAKEN, _("这个手机号已绑定其他账号"), fields={"phone": [_("已绑定其他账号")]})
    row, _created = Phone.objects.update_or_create(user=user, defaults={"number": phone, "verified": verified})
    return row


def phone_of(user) -> Phone | None:
    if user is None or not user.is_authenticated:
        return None
    return Phone.objects.filter(user=user).first()
