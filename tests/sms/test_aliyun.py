"""Aliyun SMS through its SDK (alibabacloud_dysmsapi20170525) against a local double that verifies
the SDK's ACS3-HMAC-SHA256 signatures and answers as Dysmsapi does (tests/sms/aliyun_double.py)."""

import json
import logging
import secrets
import socket

import pytest

from giftshop.errors import ProviderUnavailable
from giftshop.sms import SmsRejected, SmsUnavailable, sms_sender
from giftshop.sms_providers.aliyun import AliyunSms

CODE = {"code": "482915", "minutes": "5"}


def test_a_login_code_is_sent_signed_with_the_template_code_and_named_parameters(aliyun):
    sender = sms_sender()
    assert isinstance(sender, AliyunSms)
    sender.send(phone="13800138000", template="login_code", params=CODE)
    assert aliyun.refused == []
    assert aliyun.sent == [
        {
            "phone": "13800138000",
            "template_code": aliyun.templates["login_code"][0],
            "template": "login_code",
            "params": CODE,
        }
    ]
    request = aliyun.requests[0]
    assert request["headers"]["x-acs-action"] == "SendSms" and request["headers"]["x-acs-version"] == "2017-05-25"
    assert request["headers"]["authorization"].startswith(f"ACS3-HMAC-SHA256 Credential={aliyun.access_key_id},")
    assert request["query"]["SignName"] == "礼物小店"


def test_a_link_goes_as_its_token_the_site_being_part_of_the_approved_template(aliyun):
    params = {"name": "王小明", "sender": "alice", "product": "羊绒围巾", "token": "t" * 32}
    sms_sender().send(phone="13800138000", template="gift_link", params=params)
    assert json.loads(aliyun.requests[0]["query"]["TemplateParam"]) == params


def test_a_wrong_secret_is_refused_by_the_signature_check_and_not_retried(aliyun, settings):
    settings.SMS_ALIYUN_ACCESS_KEY_SECRET = secrets.token_hex(15)
    with pytest.raises(SmsRejected) as exc:
        sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    assert exc.value.code == "SignatureDoesNotMatch"
    assert aliyun.refused == ["SignatureDoesNotMatch"] and aliyun.sent == []


def test_a_number_that_is_not_a_mobile_is_refused_for_good(aliyun):
    with pytest.raises(SmsRejected) as exc:
        sms_sender().send(phone="23800138000", template="login_code", params=CODE)
    assert exc.value.code == "isv.MOBILE_NUMBER_ILLEGAL"
    assert not isinstance(exc.value, ProviderUnavailable)


def test_minute_flow_control_is_worth_a_retry_and_the_daily_one_is_final(aliyun):
    aliyun.code_for["13800138000"] = ("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")
    with pytest.raises(SmsUnavailable) as exc:
        sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    assert exc.value.code == "isv.BUSINESS_LIMIT_CONTROL"
    aliyun.code_for["13800138000"] = ("isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10")
    with pytest.raises(SmsRejected):
        sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    assert aliyun.sent == []


def test_a_template_the_provider_has_not_approved_is_refused(aliyun, settings):
    settings.SMS_ALIYUN_TEMPLATES = {**settings.SMS_ALIYUN_TEMPLATES, "login_code": "SMS_1"}
    with pytest.raises(SmsRejected) as exc:
        sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    assert exc.value.code == "isv.SMS_TEMPLATE_ILLEGAL"


def test_a_timeout_raises_the_retryable_error_and_the_next_try_is_sent(aliyun):
    aliyun.stall_next = 1
    with pytest.raises(SmsUnavailable) as exc:
        sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    assert exc.value.__context__ is None  # no SDK exception (and its message) chained into a traceback
    assert aliyun.sent == []
    sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    assert [m["params"] for m in aliyun.sent] == [CODE]


def test_a_provider_that_is_down_is_worth_a_retry(aliyun, settings):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.SMS_ALIYUN_ENDPOINT = f"http://127.0.0.1:{port}"
    with pytest.raises(SmsUnavailable):
        sms_sender().send(phone="13800138000", template="login_code", params=CODE)


def test_a_gateway_overloaded_is_worth_a_retry(aliyun):
    aliyun.down = True
    with pytest.raises(SmsUnavailable) as exc:
        sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    assert exc.value.code == "ServiceUnavailable"


def test_no_log_line_holds_the_code_or_the_whole_number_even_at_debug(aliyun, all_logs, monkeypatch):
    monkeypatch.setenv("DEBUG", "sdk")  # the SDK's own switch for writing each request and answer
    sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    aliyun.code_for["13900139000"] = ("isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10")
    with pytest.raises(SmsRejected):
        sms_sender().send(phone="13900139000", template="login_code", params={"code": "771903", "minutes": "5"})
    assert aliyun.sent[0]["params"]["code"] == "482915"  # the code did travel
    assert any("138****8000" in line for line in all_logs)
    assert not [line for line in all_logs if "482915" in line or "771903" in line]
    assert not [line for line in all_logs if "13800138000" in line or "13900139000" in line]


def test_the_capture_above_would_see_the_http_client_writing_the_query_if_its_debug_logging_were_on(aliyun, all_logs):
    http = logging.getLogger("urllib3")
    http.setLevel(logging.DEBUG)
    try:
        sms_sender().send(phone="13800138000", template="login_code", params=CODE)
    finally:
        http.setLevel(logging.WARNING)
    assert any("482915" in line for line in all_logs)
