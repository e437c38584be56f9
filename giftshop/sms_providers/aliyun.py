"""Aliyun SMS (Dysmsapi 2017-05-25, SendSms) through its SDK, alibabacloud_dysmsapi20170525.

The SDK signs each request with ACS3-HMAC-SHA256 (an `Authorization` header over the canonical
request). Settings: SMS_ALIYUN_ACCESS_KEY_ID / SMS_ALIYUN_ACCESS_KEY_SECRET (a RAM user's key allowed
to send SMS), SMS_ALIYUN_ENDPOINT (default dysmsapi.aliyuncs.com; `http://host:port` for a proxy or a
test double), SMS_ALIYUN_TEMPLATES (our template key -> approved template code, SMS_123456789) and
SMS_SIGN_NAME.
"""

from __future__ import annotations

import json
import logging

from alibabacloud_dysmsapi20170525 import models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.exceptions import ResponseException
from django.conf import settings

from giftshop.sms import SmsRejected, SmsUnavailable, mask_phone, quiet_sdk_loggers, template_get
from giftshop.sms_providers import endpoint_split, templates_missing

log = logging.getLogger(__name__)
quiet_sdk_loggers()  # after the SDK's import: darabonba sets its logger to DEBUG when imported

# Codes worth another try later (https://help.aliyun.com/document_detail/101346.html); the rest are
# final for this message. BUSINESS_LIMIT_CONTROL is the per-number flow control: minute and hour
# limits pass, the daily one does not ("天级流控").
RETRYABLE_CODES = {"isp.SYSTEM_ERROR", "isp.RAM_PERMISSION_DENY", "Throttling", "ServiceUnavailable", "InternalError"}


def _raise_for(code: str, message: str):
    """SmsUnavailable for a code worth another try, SmsRejected for the rest."""
    if code in RETRYABLE_CODES or code.startswith(("Throttling", "isp.")):
        raise SmsUnavailable(f"aliyun: {code}", code=code)
    if code == "isv.BUSINESS_LIMIT_CONTROL" and "天级" not in message:
        raise SmsUnavailable(f"aliyun: {code}", code=code)
    raise SmsRejected(f"aliyun: {code}", code=code)


class AliyunSms:
    name = "aliyun"

    def __init__(self):
        scheme, host = endpoint_split(settings.SMS_ALIYUN_ENDPOINT)
        timeout_ms = int(settings.SMS_TIMEOUT_SECONDS * 1000)
        config = Config(
            access_key_id=settings.SMS_ALIYUN_ACCESS_KEY_ID,
            access_key_secret=settings.SMS_ALIYUN_ACCESS_KEY_SECRET,
            endpoint=host,
            protocol=scheme,
            read_timeout=timeout_ms,
            connect_timeout=timeout_ms,
        )
        self.client = Client(config)

    @staticmethod
    def configuration_errors() -> list[str]:
        problems = [
            f"{name} is not set"
            for name in ("SMS_ALIYUN_ACCESS_KEY_ID", "SMS_ALIYUN_ACCESS_KEY_SECRET", "SMS_SIGN_NAME")
            if not getattr(settings, name)
        ]
        return problems + templates_missing(settings.SMS_ALIYUN_TEMPLATES, "SMS_ALIYUN_TEMPLATES")

    def send(self, *, phone: str, template: str, params: dict[str, str]) -> None:
        template_get(template, params)
        template_code = settings.SMS_ALIYUN_TEMPLATES.get(template)
        if not template_code:
            raise SmsRejected(f"aliyun: no template code for {template!r} in SMS_ALIYUN_TEMPLATES", code="NoTemplate")
        request = models.SendSmsRequest(
            phone_numbers=phone,
            sign_name=settings.SMS_SIGN_NAME,
            template_code=template_code,
            template_param=json.dumps(params, ensure_ascii=False),
        )
        if not (settings.SMS_ALIYUN_ACCESS_KEY_ID and settings.SMS_ALIYUN_ACCESS_KEY_SECRET):
            raise SmsRejected("aliyun: SMS_ALIYUN_ACCESS_KEY_ID / SMS_ALIYUN_ACCESS_KEY_SECRET not set", code="NoKey")
        error = None
        try:
            response = self.client.send_sms(request)
        except ResponseException as exc:  # the gateway answered 4xx / 5xx
            error = (str(exc.code or ""), str(exc.message or ""), exc.status_code or 0)
        except Exception as exc:  # noqa: BLE001 (timeout, refused connection: the SDK wraps them in its own types)
            error = ("NetworkError", type(exc).__name__, 0)
        # Raised here, outside the handlers: no SDK message (with its request) chained into a traceback.
        if error is not None:
            code, message, status = error
            log.warning("sms %s to %s: aliyun answered %s (HTTP %s)", template, mask_phone(phone), code, status)
            if code == "NetworkError" or status >= 500:
                raise SmsUnavailable(f"aliyun: {code}", code=code)
            _raise_for(code, message)
        body = response.body
        if body is None or body.code != "OK":
            code = getattr(body, "code", "") or "NoBody"
            log.warning("sms %s to %s: aliyun refused %s", template, mask_phone(phone), code)
            _raise_for(code, getattr(body, "message", "") or "")
        log.info("sms %s to %s sent by aliyun, biz id %s", template, mask_phone(phone), body.biz_id)
