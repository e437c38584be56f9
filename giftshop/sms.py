"""Text messages (SMS) behind one small interface.

    from giftshop.sms import sms_sender, SmsRejected, SmsUnavailable

    sms_sender().send(phone="13800138000", template="login_code", params={"code": "123456", "minutes": "5"})

Chinese SMS services send a *template* approved in advance, with its parameters and a signature
name (【礼物小店】), never free text. So does this interface:

- `phone`: a mainland mobile number, 11 digits, without +86 (the provider adds the country code).
- `template`: one of our template keys, `TEMPLATES` below; each names its parameters, in order.
  Each real provider maps a key to the template id approved in its console
  (`SMS_TENCENT_TEMPLATES`, `SMS_ALIYUN_TEMPLATES`: `key=id,key=id` in the environment), with the
  signature name `SMS_SIGN_NAME`.
- `params`: exactly the template's parameters, as strings. Unknown template or wrong parameters
  raise `ValueError` (a bug in the caller, never sent).

`send` returns once the provider has accepted the message. It raises

- `SmsUnavailable` (a `ProviderUnavailable`): timeout, network, provider-side error, a short rate
  limit. Worth retrying with backoff: call `send` from an outbox task declared with
  `outbox.jobs.RETRY_TEMPORARY`, and the worker retries it (the message may then arrive twice, never
  not at all);
- `SmsRejected`: the provider refused this message for good (not a mobile number, template or
  signature not approved, the number's daily limit, bad credentials). Record it and stop; retrying
  cannot help. `code` is the provider's own error code.

Providers (`SMS_PROVIDER`): `console` (the demo's default; `log` is its old name) renders our own
text of the template and prints it, code included, to the server's standard output, and keeps it in
`ConsoleSms.outbox` for tests; `tencent` (Tencent Cloud SMS, API 2021-01-11 SendSms) and `aliyun`
(Aliyun Dysmsapi 2017-05-25 SendSms) call the provider through its SDK
(`giftshop/sms_providers/`). No provider writes a message's parameters (codes, links) to a log:
logs name the template and the masked number (138****1234) only, and the SDKs' own request logging
is held at WARNING (`quiet_sdk_loggers`). Never put a code in an outbox job's arguments either:
derive it again in the worker, as the bulk-gift codes do.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from giftshop.errors import ProviderUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmsTemplate:
    params: tuple[str, ...]  # in the order of the provider template's variables ({1}, {2}, … at Tencent)
    text: str  # our own wording: the console provider prints it; register the same at each provider


TEMPLATES: dict[str, SmsTemplate] = {
    # Sign-in by phone: a one-time code.
    "login_code": SmsTemplate(
        ("code", "minutes"), "您的验证码是 {code}，{minutes} 分钟内有效。如非本人操作，请忽略本短信。"
    ),
    # Bulk gifts: the personal link, its expiry reminder, and the code that proves the named person.
    # Providers refuse a whole URL as a variable: the site's address is part of the approved template
    # ({site} here, SITE_URL) and only the link's token (32 characters) is a parameter.
    "gift_link": SmsTemplate(
        ("name", "sender", "product", "token"),
        "{name}，{sender} 送你一份礼物「{product}」，打开链接填写地址即可收下：{site}/b/{token}/",
    ),
    "gift_reminder": SmsTemplate(
        ("name", "sender", "product", "token"),
        "{name}，{sender} 送你的礼物「{product}」即将过期，请尽快填写地址收下：{site}/b/{token}/",
    ),
    "gift_code": SmsTemplate(("code", "minutes"), "你的领礼物验证码是 {code}，{minutes} 分钟内有效。不要告诉别人。"),
}


class SmsUnavailable(ProviderUnavailable):
    """The SMS provider failed for now (timeout, network, its own error, a short rate limit): retry later."""

    def __init__(self, message: str = "", *, code: str = ""):
        super().__init__(message or code)
        self.code = code


class SmsRejected(Exception):
    """The provider refused this message for good (bad number, template not approved, …): do not retry."""

    def __init__(self, message: str = "", *, code: str = ""):
        super().__init__(message or code)
        self.code = code


class SmsSender(Protocol):
    name: str

    def send(self, *, phone: str, template: str, params: dict[str, str]) -> None: ...


def mask_phone(phone: str) -> str:
    """138****1234: how a number appears in any log line."""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


def template_get(template: str, params: dict[str, str]) -> SmsTemplate:
    """The template behind a key, with `params` checked against it."""
    tpl = TEMPLATES.get(template)
    if tpl is None:
        raise ValueError(f"unknown SMS template {template!r}")
    if set(params) != set(tpl.params):
        raise ValueError(f"SMS template {template!r} takes {', '.join(tpl.params)}; got {', '.join(sorted(params))}")
    if not all(isinstance(v, str) for v in params.values()):
        raise ValueError("SMS parameters are strings")
    return tpl


def render(template: str, params: dict[str, str]) -> str:
    """The message as a phone shows it: 【signature】 and our text of the template."""
    text = template_get(template, params).text.format(site=settings.SITE_URL.rstrip("/"), **params)
    return f"【{settings.SMS_SIGN_NAME}】{text}"


class ConsoleSms:
    """The demo's provider: prints each message to standard output and keeps it in `outbox` (per
    process), like Django's console and locmem mail backends together. Never for production."""

    name = "console"
    outbox: list[dict] = []

    def send(self, *, phone: str, template: str, params: dict[str, str]) -> None:
        text = render(template, params)
        ConsoleSms.outbox.append({"phone": phone, "template": template, "params": dict(params), "text": text})
        print(f"[SMS {phone}] {text}", file=sys.stdout, flush=True)  # noqa: T201 (the console provider's job)

    @staticmethod
    def configuration_errors() -> list[str]:
        return []


LogSms = ConsoleSms  # the old name, kept for old imports

SMS_PROVIDERS = {
    "console": "giftshop.sms.ConsoleSms",
    "log": "giftshop.sms.ConsoleSms",  # the old name of the console provider: old settings still work
    "tencent": "giftshop.sms_providers.tencent.TencentSms",
    "aliyun": "giftshop.sms_providers.aliyun.AliyunSms",
}
SANDBOX_SMS_PROVIDERS = {"console", "log"}


def sms_provider_class(name: str):
    if name not in SMS_PROVIDERS:
        raise ValueError(f"unknown SMS_PROVIDER {name!r}; one of {', '.join(SMS_PROVIDERS)}")
    return import_string(SMS_PROVIDERS[name])


def sms_sender() -> SmsSender:
    return sms_provider_class(settings.SMS_PROVIDER)()


# Loggers of the SDKs and their HTTP client that would write a request (its body or query string,
# and so a code) at DEBUG. Held at WARNING whatever LOG_LEVEL says.
SDK_LOGGERS = ("tencentcloud_sdk_common", "darabonba-core", "alibabacloud-tea", "urllib3")


def quiet_sdk_loggers() -> None:
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
