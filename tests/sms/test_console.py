"""The demo's console provider: the message as a phone would show it, printed to standard output."""

import pytest

from giftshop.sms import ConsoleSms, LogSms, render, sms_sender


@pytest.fixture(autouse=True)
def _console(settings):
    settings.SMS_PROVIDER = "console"
    settings.SMS_SIGN_NAME = "礼物小店"
    ConsoleSms.outbox.clear()
    yield
    ConsoleSms.outbox.clear()


def test_the_code_is_printed_to_standard_output_in_our_chinese_template(capsys):
    sms_sender().send(phone="13800138000", template="login_code", params={"code": "123456", "minutes": "5"})
    out = capsys.readouterr().out
    assert "13800138000" in out and "【礼物小店】您的验证码是 123456，5 分钟内有效。" in out
    assert ConsoleSms.outbox == [
        {
            "phone": "13800138000",
            "template": "login_code",
            "params": {"code": "123456", "minutes": "5"},
            "text": "【礼物小店】您的验证码是 123456，5 分钟内有效。如非本人操作，请忽略本短信。",
        }
    ]


def test_log_is_the_old_name_of_the_console_provider(settings):
    settings.SMS_PROVIDER = "log"
    assert isinstance(sms_sender(), ConsoleSms) and LogSms is ConsoleSms


def test_an_unknown_provider_or_template_or_wrong_parameters_are_errors(settings):
    with pytest.raises(ValueError):
        sms_sender().send(phone="13800138000", template="login_code", params={"code": "123456"})
    with pytest.raises(ValueError):
        sms_sender().send(phone="13800138000", template="login_code", params={"code": "123456", "minutes": 5})
    settings.SMS_PROVIDER = "carrier-pigeon"
    with pytest.raises(ValueError):
        sms_sender()
    assert ConsoleSms.outbox == []


def test_a_link_is_the_site_address_and_the_token(settings):
    settings.SITE_URL = "https://gifts.example.com/"
    text = render("gift_link", {"name": "王小明", "sender": "alice", "product": "羊绒围巾", "token": "abc"})
    assert (
        text
        == "【礼物小店】王小明，alice 送你一份礼物「羊绒围巾」，打开链接填写地址即可收下：https://gifts.example.com/b/abc/"
    )
