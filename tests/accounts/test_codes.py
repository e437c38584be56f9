"""Phone codes as a service: delivery through the outbox, hashing, expiry, tries, resend and limits."""

import logging

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from accounts.models import Phone, PhoneCode
from accounts.services import codes
from accounts.services.phones import phone_normalize
from giftshop.errors import AppError, ProviderUnavailable, Throttled
from outbox.models import Job
from tests.conftest import last_code

PHONE = "13912345678"


@pytest.fixture
def ask(db, django_capture_on_commit_callbacks, sms):
    """Ask for a code the way the pages and API do; the outbox job runs on commit (eager Celery)."""

    def _ask(phone=PHONE, ip="10.0.0.1"):
        with django_capture_on_commit_callbacks(execute=True):
            sent = codes.code_request(phone=phone, ip=ip)
        return sent, last_code(sms, sent.phone)

    return _ask


def _allow_resend(phone=PHONE):
    cache.delete(f"phone-code:resend:{phone}")  # as if the 60 seconds had passed


@pytest.mark.parametrize("raw", ["13912345678", "139 1234 5678", "+86 139-1234-5678", "8613912345678"])
def test_mainland_numbers_are_normalised(raw):
    assert phone_normalize(raw) == "13912345678"


@pytest.mark.parametrize(
    "raw", ["", "1391234567", "12912345678", "23912345678", "139123456789", "abc", "+1 4155550100"]
)
def test_other_numbers_are_a_field_error(raw):
    with pytest.raises(AppError) as exc:
        phone_normalize(raw)
    assert exc.value.code == "bad_phone"
    assert "phone" in exc.value.fields


def test_code_is_sent_through_the_outbox_and_marked_sent(ask, sms):
    sent, code = ask()
    assert len(code) == 6 and code.isdigit()
    assert sms[-1]["template"] == "login_code"
    assert sms[-1]["params"] == {"code": code, "minutes": "5"}
    row = PhoneCode.objects.get(pk=sent.code_id)
    assert row.sent_at is not None
    assert codes.code_status(code_id=row.pk, phone=PHONE)["sent"] is True
    assert not Job.objects.filter(task="accounts.tasks.send_phone_code").exists()  # ran to the end


def test_the_page_says_sent_only_once_the_provider_took_it(db, django_capture_on_commit_callbacks, sms, monkeypatch):
    def timeout(self, **kwargs):
        raise ProviderUnavailable("sms gateway timed out")

    monkeypatch.setattr("giftshop.sms.LogSms.send", timeout)
    with django_capture_on_commit_callbacks(execute=True):  # the worker's try fails; the outbox keeps the job
        codes.code_request(phone=PHONE, ip="10.0.0.1")
    sent = PhoneCode.objects.get()
    assert sent.sent_at is None
    assert codes.code_status(code_id=sent.pk, phone=PHONE)["sent"] is False
    # The job is still in the outbox: a worker sends it again, and then the page says sent.
    job = Job.objects.get(task="accounts.tasks.send_phone_code")
    assert job.args == [sent.pk]
    monkeypatch.undo()
    assert codes.code_deliver(code_id=sent.pk) is True
    assert codes.code_status(code_id=sent.pk, phone=PHONE)["sent"] is True
    assert codes.code_deliver(code_id=sent.pk) is False  # twice: sent once


def test_the_plain_code_is_nowhere_in_the_database_or_the_logs(ask, caplog):
    caplog.set_level(logging.DEBUG)
    sent, code = ask()
    user, created = codes.code_verify(phone=PHONE, code=code)
    assert created
    with connection.cursor() as cursor:
        for table in ("phone_accounts_phonecode", "outbox_job", "phone_accounts_phone"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 (fixed names)
            for row in cursor.fetchall():
                assert code not in " ".join(str(v) for v in row), table
    assert PhoneCode.objects.get().code_hash != code and len(PhoneCode.objects.get().code_hash) == 64
    assert code not in caplog.text
    assert PHONE not in caplog.text  # numbers are masked in our log lines


def test_first_code_creates_the_account_and_the_next_signs_into_it(ask):
    _sent, code = ask()
    user, created = codes.code_verify(phone=PHONE, code=code)
    assert created and not user.has_usable_password()
    assert Phone.objects.get(user=user).number == PHONE and Phone.objects.get(user=user).verified
    _allow_resend()
    _sent, code = ask()
    again, created = codes.code_verify(phone=PHONE, code=code)
    assert again == user and not created


def test_a_used_code_is_refused(ask):
    _sent, code = ask()
    codes.code_verify(phone=PHONE, code=code)
    with pytest.raises(AppError) as exc:
        codes.code_verify(phone=PHONE, code=code)
    assert exc.value.code == "code_expired"
    assert "已使用" in exc.value.detail


def test_an_expired_code_is_refused(ask):
    sent, code = ask()
    PhoneCode.objects.filter(pk=sent.code_id).update(expires_at=timezone.now())
    with pytest.raises(AppError) as exc:
        codes.code_verify(phone=PHONE, code=code)
    assert exc.value.code == "code_expired"
    assert not Phone.objects.exists()


def test_no_code_asked_is_expired(db):
    with pytest.raises(AppError) as exc:
        codes.code_verify(phone=PHONE, code="123456")
    assert exc.value.code == "code_expired"


def test_five_wrong_tries_spend_the_code(ask):
    _sent, code = ask()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(AppError) as exc:
            codes.code_verify(phone=PHONE, code=wrong)
        assert exc.value.code == "bad_code"
        assert (str(left) in exc.value.detail) if left else "重新获取" in exc.value.detail
    with pytest.raises(Throttled) as exc:
        codes.code_verify(phone=PHONE, code=code)  # even the right one, now
    assert exc.value.retry_after >= 1
    assert PhoneCode.objects.get().attempts == 5
    assert not Phone.objects.exists()


def test_a_new_code_replaces_the_old_one(ask):
    _sent, old = ask()
    _allow_resend()
    _sent, new = ask()
    if old != new:
        with pytest.raises(AppError):
            codes.code_verify(phone=PHONE, code=old)
    codes.code_verify(phone=PHONE, code=new)


def test_resend_waits_sixty_seconds(ask):
    ask()
    with pytest.raises(Throttled) as exc:
        codes.code_request(phone=PHONE, ip="10.0.0.1")
    assert 1 <= exc.value.retry_after <= 61
    assert PhoneCode.objects.count() == 1
    _allow_resend()
    ask()
    assert PhoneCode.objects.count() == 2


def test_codes_per_ip_are_limited(ask, settings):
    settings.PHONE_CODE_PER_IP_PER_HOUR = 2
    ask(phone="13900000001")
    ask(phone="13900000002")
    with pytest.raises(Throttled) as exc:
        codes.code_request(phone="13900000003", ip="10.0.0.1")
    assert exc.value.retry_after >= 1
    codes.code_request(phone="13900000004", ip="10.0.0.2")  # another client is not affected


def test_codes_per_number_are_limited(ask, settings):
    settings.PHONE_CODE_PER_PHONE_PER_DAY = 2
    ask(ip="10.0.0.1")
    _allow_resend()
    ask(ip="10.0.0.2")
    _allow_resend()
    with pytest.raises(Throttled):
        codes.code_request(phone=PHONE, ip="10.0.0.3")


def test_wrong_answers_per_number_are_limited_across_codes(ask, settings):
    settings.PHONE_CODE_FAILS_PER_PHONE_PER_HOUR = 3
    for _ in range(3):
        _allow_resend()
        _sent, code = ask()
        with pytest.raises(AppError) as exc:
            codes.code_verify(phone=PHONE, code=f"{(int(code) + 1) % 1_000_000:06d}")
        assert exc.value.code == "bad_code"
    _allow_resend()
    _sent, code = ask()
    with pytest.raises(Throttled):
        codes.code_verify(phone=PHONE, code=code)


def test_a_late_worker_does_not_send_an_expired_code(db, sms, django_capture_on_commit_callbacks):
    sent = codes.code_request(phone=PHONE, ip="")  # on-commit publishing not run
    PhoneCode.objects.filter(pk=sent.code_id).update(expires_at=timezone.now())
    assert codes.code_deliver(code_id=sent.code_id) is False
    assert sms == []
