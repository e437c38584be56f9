"""One-time sign-in codes sent by SMS: the one service the web login, the claim page and the API use.

A code is 6 digits, valid `PHONE_CODE_TTL`, at most `PHONE_CODE_MAX_ATTEMPTS` tries, a new one after
`PHONE_CODE_RESEND_SECONDS`. It is never stored: it is derived from the row (id and issue time) with
the server secret, so the worker that sends the SMS derives it again, and the row keeps only a keyed
hash to compare with. The first valid code for a number creates its account.

Limits live in the shared cache (Django's cache: Redis in production) so every process counts the
same: codes requested per number and per client IP, and wrong answers per number and per IP. Beyond
them: `Throttled` (429 with `Retry-After`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import error_codes as E
from accounts.models import PhoneCode
from accounts.services.phones import account_for_phone, phone_mask, phone_normalize
from giftshop.errors import AppError, Throttled
from giftshop.sms import sms_sender
from outbox.jobs import enqueue

log = logging.getLogger(__name__)

SMS_TEMPLATE = "login_code"


def code_value(row: PhoneCode) -> str:
    stamp = int(row.created_at.timestamp() * 1_000_000)
    digest = hmac.new(settings.SECRET_KEY.encode(), f"phone-code-value:{row.pk}:{stamp}".encode(), hashlib.sha256)
    return f"{int(digest.hexdigest(), 16) % 1_000_000:06d}"


def code_hash(row_id: int, code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"phone-code:{row_id}:{code}".encode(), hashlib.sha256).hexdigest()


# ----- limits in the shared cache -----


def _window(name: str, key: str, window: int) -> tuple[str, int]:
    now = int(time.time())
    return f"phone-code:{name}:{key}:{now // window}", window - now % window


def _count(name: str, key: str, window: int, *, add: bool) -> tuple[int, int]:
    cache_key, left = _window(name, key, window)
    if not add:
        return int(cache.get(cache_key, 0)), left
    cache.add(cache_key, 0, timeout=window + 1)
    try:
        n = cache.incr(cache_key)
    except ValueError:  # evicted between add and incr
        cache.set(cache_key, 1, timeout=window + 1)
        return 1, left
    # None: the cache is down and django-redis let the call pass (CACHES in settings); a failure is
    # not counted then, and each code still has its own attempt limit in the database.
    return (0 if n is None else n), left


def _limit(name: str, key: str, limit: int, window: int, *, add: bool) -> None:
    if not key:
        return
    n, left = _count(name, key, window, add=add)
    if n > limit or (not add and n >= limit):
        raise Throttled(_("操作太频繁，请稍后再试"), retry_after=left)


def _resend_wait(phone: str) -> int:
    issued = cache.get(f"phone-code:resend:{phone}")
    if issued is None:
        return 0
    return max(0, int(issued + settings.PHONE_CODE_RESEND_SECONDS - time.time()) + 1)


@dataclass
class CodeRequest:
    code_id: int
    phone: str
    retry_after: int


def code_request(*, phone: str, ip: str = "") -> CodeRequest:
    """Send a new code to `phone` (through the outbox). Field error `bad_phone`; `Throttled`."""
    phone = phone_normalize(phone)
    resend = settings.PHONE_CODE_RESEND_SECONDS
    first = cache.add(f"phone-code:resend:{phone}", time.time(), timeout=resend)
    if first is None:
        # The cache is down: the per-number and per-address limits that stop someone sending our
        # SMS to thousands of numbers can't be counted, so no code is sent until it is back.
        raise Throttled(_("暂时无法发送验证码，请稍后再试"), retry_after=resend)
    if not first:
        raise Throttled(_("验证码已发送，请稍后再重新获取"), retry_after=_resend_wait(phone))
    _limit("ip", ip, settings.PHONE_CODE_PER_IP_PER_HOUR, 3600, add=True)
    _limit("phone", phone, settings.PHONE_CODE_PER_PHONE_PER_DAY, 86400, add=True)
    now = timezone.now()
    with transaction.atomic():
        # Only the newest code of a number counts: the older ones stop working now.
        PhoneCode.objects.filter(phone=phone, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        row = PhoneCode.objects.create(phone=phone, created_at=now, expires_at=now + settings.PHONE_CODE_TTL)
        row.code_hash = code_hash(row.pk, code_value(row))
        row.save(update_fields=["code_hash"])
        enqueue("accounts.tasks.send_phone_code", row.pk)
    log.info("phone code requested for %s", phone_mask(phone))
    return CodeRequest(code_id=row.pk, phone=phone, retry_after=resend)


def code_deliver(*, code_id: int) -> bool:
    """The worker's half: hand the SMS to the provider, then mark the row sent. Safe to run twice;
    a code already used or expired is not sent. A provider timeout raises ProviderUnavailable and
    the task is retried."""
    row = PhoneCode.objects.filter(pk=code_id).first()
    if row is None or row.sent_at is not None or row.used_at is not None or row.expires_at <= timezone.now():
        return False
    minutes = str(int(settings.PHONE_CODE_TTL.total_seconds() // 60))
    sms_sender().send(phone=row.phone, template=SMS_TEMPLATE, params={"code": code_value(row), "minutes": minutes})
    PhoneCode.objects.filter(pk=row.pk, sent_at__isnull=True).update(sent_at=timezone.now())
    log.info("phone code %s handed to the sms provider", row.pk)
    return True


def code_recent(phone: str) -> int | None:
    """The id of the code a number can still sign in with (the newest, unused and unexpired), if any:
    a browser refused a new code for now is shown the step for the one already on its way."""
    phone = phone_normalize(phone)
    return (
        PhoneCode.objects.filter(phone=phone, used_at__isnull=True, expires_at__gt=timezone.now())
        .order_by("-created_at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )


def code_status(*, code_id: int, phone: str) -> dict:
    """What the page shows after asking: sent yet (the provider took it), and when a new one may be asked."""
    row = PhoneCode.objects.filter(pk=code_id, phone=phone).first()
    return {"sent": bool(row and row.sent_at), "retry_after": _resend_wait(phone)}


def _fail(phone: str, ip: str, error: AppError) -> AppError:
    _count("fail-phone", phone, 3600, add=True)
    if ip:
        _count("fail-ip", ip, 3600, add=True)
    return error


def code_verify(*, phone: str, code: str, ip: str = "") -> tuple[object, bool]:
    """Check the code; on success the number's account (made now on first use). Returns (user, created).

    Wrong, expired or reused codes are refused (`bad_code`, `code_expired`) and counted; after
    `PHONE_CODE_MAX_ATTEMPTS` wrong tries the code is spent and further tries are `Throttled`."""
    phone = phone_normalize(phone)
    code = "".join(str(code or "").split())
    _limit("fail-phone", phone, settings.PHONE_CODE_FAILS_PER_PHONE_PER_HOUR, 3600, add=False)
    _limit("fail-ip", ip, settings.PHONE_CODE_FAILS_PER_IP_PER_HOUR, 3600, add=False)
    now = timezone.now()
    error: AppError | None = None
    with transaction.atomic():
        row = PhoneCode.objects.select_for_update().filter(phone=phone).order_by("-created_at", "-pk").first()
        if row is None or row.expires_at <= now and row.used_at is None:
            error = AppError(E.CODE_EXPIRED, _("验证码已失效，请重新获取"), fields={"code": [_("已失效")]})
        elif row.used_at is not None:
            error = AppError(E.CODE_EXPIRED, _("验证码已使用过，请重新获取"), fields={"code": [_("已使用")]})
        elif row.attempts >= settings.PHONE_CODE_MAX_ATTEMPTS:
            error = Throttled(_("验证码错误次数过多，请重新获取"), retry_after=_resend_wait(phone))
        elif not (len(code) == 6 and code.isdigit() and hmac.compare_digest(code_hash(row.pk, code), row.code_hash)):
            row.attempts += 1
            row.save(update_fields=["attempts"])
            left = settings.PHONE_CODE_MAX_ATTEMPTS - row.attempts
            detail = _("验证码不正确，还可以再试 %(n)s 次") % {"n": left} if left else _("验证码不正确，请重新获取")
            error = AppError(E.BAD_CODE, detail, fields={"code": [_("不正确")]})
        else:
            row.used_at = now
            row.save(update_fields=["used_at"])
            user, created = account_for_phone(phone, verified=True)
    if error is not None:
        raise _fail(phone, ip, error)
    log.info("phone code verified for %s (new account: %s)", phone_mask(phone), created)
    return user, created
