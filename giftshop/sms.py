"""Text messages behind an interface. A real gateway (Aliyun SMS, Tencent Cloud SMS) implements
`SmsSender`; the built-in one writes the message to the log, as the console email backend does."""

from __future__ import annotations

import logging
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)

SMS_PROVIDERS = {"log": "giftshop.sms.LogSms"}


class SmsSender(Protocol):
    name: str

    def send(self, *, phone: str, template: str, params: dict[str, str]) -> None: ...


class LogSms:
    """Logs each message and keeps it in `outbox` (per process), like Django's locmem mail backend."""

    name = "log"
    outbox: list[dict] = []

    def send(self, *, phone: str, template: str = "", params: dict[str, str] | None = None, text: str = "") -> None:
        LogSms.outbox.append({"phone": phone, "template": template, "params": dict(params or {}), "text": text})
        if template:  # a template's parameters may hold a one-time code: never logged
            log.info("sms to %s: template %s", phone[:3] + "****" + phone[-4:], template)
        else:
            log.info("sms to %s: %s", phone, text)


def sms_sender() -> SmsSender:
    return import_string(SMS_PROVIDERS[settings.SMS_PROVIDER])()
