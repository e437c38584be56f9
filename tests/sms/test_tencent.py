"""Tencent Cloud SMS through its SDK (tencentcloud-sdk-python-sms) against a local double that
verifies TC3-HMAC-SHA256 signatures and answers as API 3.0 does (tests/sms/tencent_double.py)."""

import logging
import secrets

import pytest

from giftshop.errors import ProviderUnavailable
from giftshop.sms import SmsRejected, SmsUnavailable, sms_sender
from giftshop.sms_providers.tencent import TencentSms

CODE = {"code": "482915", "minutes": "5"}


def test_a_login_code_is_sent_signed_with_the_template_id_and_ordered_parameters(tencent):
    sender = sms_sender()
    assert isinstance(sender, TencentSms)
    sender.send(phone="13800138000", template="login_code", params={"minutes": "5", "code": "482915"})
    assert tencent.refused == []
    assert tencent.sent == [
        {
            "phone": "+8613800138000",
            "template_id": tencent.templates["login_code"][0],
            "template": "login_code",
            "params": ["482915", "5"],  # {1} is the code, {2} the minutes, whatever the dict's order
        }
    ]
    request = tencent.requests[0]
    assert request["headers"]["x-tc-action"] == "SendSms" and request["headers"]["x-tc-version"] == "2021-01-11"
    assert request["headers"]["authorization"].startswith(f"TC3-HMAC-SHA256 Credential={tencent.secret_id}/")


def test_a_wrong_secret_key_is_refused_by_the_signature_check_and_not_retried(tencent, settings):
    settings.SMS_TENCENT_SECRET_KEY = secrets.token_hex(16)
    with pytest.raises(SmsRejected) as exc:
        sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    assert exc.value.code == "AuthFailure.SignatureFailure"
    assert tencent.refused == ["AuthFailure.SignatureFailure"] and tencent.sent == []


def test_a_number_that_is_not_a_mobile_is_refused_for_good(tencent):
    with pytest.raises(SmsRejected) as exc:
        sms_sender().send(phone="1380013800", template="login_code", params=CODE)
    assert exc.value.code == "InvalidParameterValue.IncorrectPhoneNumber"
    assert not isinstance(exc.value, ProviderUnavailable)


def test_the_daily_limit_is_final_and_the_thirty_second_limit_is_worth_a_retry(tencent):
    tencent.status_for["+8613800138000"] = "LimitExceeded.PhoneNumberDailyLimit"
    with pytest.raises(SmsRejected) as exc:
        sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    assert exc.value.code == "LimitExceeded.PhoneNumberDailyLimit"
    tencent.status_for["+8613800138000"] = "LimitExceeded.PhoneNumberThirtySecondLimit"
    with pytest.raises(SmsUnavailable) as exc:
        sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    assert isinstance(exc.value, ProviderUnavailable)
    assert tencent.sent == []


def test_a_template_the_provider_has_not_approved_is_refused_and_a_missing_mapping_never_leaves(tencent, settings):
    settings.SMS_TENCENT_TEMPLATES = {**settings.SMS_TENCENT_TEMPLATES, "login_code": "999"}
    with pytest.raises(SmsRejected) as exc:
        sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    assert exc.value.code == "FailedOperation.TemplateIncorrectOrUnapproved"
    settings.SMS_TENCENT_TEMPLATES = {}
    requests = len(tencent.requests)
    with pytest.raises(SmsRejected):
        sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    assert len(tencent.requests) == requests


def test_wrong_parameters_are_a_bug_raised_before_any_request(tencent):
    with pytest.raises(ValueError):
        sms_sender().send(phone="13800138000", template="login_code", params={"code": "482915"})
    with pytest.raises(ValueError):
        sms_sender().send(phone="13800138000", template="no_such_template", params={})
    assert tencent.requests == []


def test_a_timeout_raises_the_retryable_error_and_the_next_try_is_sent(tencent):
    tencent.stall_next = 1
    with pytest.raises(SmsUnavailable) as exc:
        sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    assert exc.value.code == "ClientNetworkError"
    assert exc.value.__context__ is None  # no SDK exception (and its message) chained into a traceback
    assert tencent.sent == []
    sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    assert [m["params"] for m in tencent.sent] == [["482915", "5"]]


def test_a_gateway_error_is_worth_a_retry(tencent):
    tencent.down = True
    with pytest.raises(SmsUnavailable) as exc:
        sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    assert exc.value.code == "ServerNetworkError"


def test_no_log_line_holds_the_code_or_the_whole_number_even_at_debug(tencent, all_logs):
    sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    tencent.status_for["+8613900139000"] = "LimitExceeded.PhoneNumberDailyLimit"
    with pytest.raises(SmsRejected):
        sms_sender().send(phone="13900139000", template="login_code", params={"code": "771903", "minutes": "5"})
    assert tencent.sent[0]["params"][0] == "482915"  # the code did travel
    assert any("138****8000" in line for line in all_logs)  # our own lines were captured
    assert not [line for line in all_logs if "482915" in line or "771903" in line]
    assert not [line for line in all_logs if "13800138000" in line or "13900139000" in line]


def test_the_capture_above_would_see_the_sdk_writing_the_request_if_its_debug_logging_were_on(tencent, all_logs):
    sdk = logging.getLogger("tencentcloud_sdk_common")
    sdk.setLevel(logging.DEBUG)
    try:
        sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    finally:
        sdk.setLevel(logging.WARNING)
    assert any("482915" in line for line in all_logs)
