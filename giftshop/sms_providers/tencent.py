"""Tencent Cloud SMS (API 2021-01-11, SendSms) through its SDK, tencentcloud-sdk-python-sms.

Settings: SMS_TENCENT_SECRET_ID / SMS_TENCENT_SECRET_KEY (a CAM key allowed to send SMS),
SMS_TENCENT_SDK_APP_ID (the SMS application's SdkAppId), SMS_TENCENT_REGION, SMS_TENCENT_ENDPOINT
(default sms.tencentcloudapi.com; `http://host:port` for a proxy or a test double),
SMS_TENCENT_TEMPLATES (our template key -> approved template id) and SMS_SIGN_NAME.
"""

from __future__ import annotations

import logging

from django.conf import settings
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from giftshop.sms import SmsRejected, SmsUnavailable, mask_phone, quiet_sdk_loggers, template_get
from giftshop.sms_providers import endpoint_split, templates_missing

log = logging.getLogger(__name__)
quiet_sdk_loggers()

# Error codes worth another try later; every other code is final for this message.
# https://cloud.tencent.com/document/product/382/55981 (SendSms) and 382/59177 (error codes).
RETRYABLE_PREFIXES = ("InternalError", "ClientNetworkError", "ServerNetworkError", "RequestLimitExceeded")
RETRYABLE_CODES = {
    "LimitExceeded.PhoneNumberThirtySecondLimit",
    "LimitExceeded.PhoneNumberOneHourLimit",
    "FailedOperation.FailResolvePacket",
}


def _raise_for(code: str, message: str):
    """SmsUnavailable for a code worth another try, SmsRejected for the rest."""
    if code.startswith(RETRYABLE_PREFIXES) or code in RETRYABLE_CODES:
        raise SmsUnavailable(f"tencent: {code}", code=code)
    raise SmsRejected(f"tencent: {code}", code=code)


class TencentSms:
    name = "tencent"

    @staticmethod
    def _client() -> sms_client.SmsClient:
        scheme, host = endpoint_split(settings.SMS_TENCENT_ENDPOINT)
        http = HttpProfile(protocol=scheme, endpoint=host, reqTimeout=settings.SMS_TIMEOUT_SECONDS)
        try:
            cred = credential.Credential(settings.SMS_TENCENT_SECRET_ID, settings.SMS_TENCENT_SECRET_KEY)
        except TencentCloudSDKException as exc:
            raise SmsRejected(
                "tencent: SMS_TENCENT_SECRET_ID / SMS_TENCENT_SECRET_KEY not set", code=exc.get_code()
            ) from None
        return sms_client.SmsClient(cred, settings.SMS_TENCENT_REGION, ClientProfile(httpProfile=http))

    @staticmethod
    def configuration_errors() -> list[str]:
        problems = [
            f"{name} is not set"
            for name in ("SMS_TENCENT_SECRET_ID", "SMS_TENCENT_SECRET_KEY", "SMS_TENCENT_SDK_APP_ID", "SMS_SIGN_NAME")
            if not getattr(settings, name)
        ]
        return problems + templates_missing(settings.SMS_TENCENT_TEMPLATES, "SMS_TENCENT_TEMPLATES")

    def send(self, *, phone: str, template: str, params: dict[str, str]) -> None:
        tpl = template_get(template, params)
        template_id = settings.SMS_TENCENT_TEMPLATES.get(template)
        if not template_id:
            raise SmsRejected(f"tencent: no template id for {template!r} in SMS_TENCENT_TEMPLATES", code="NoTemplate")
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [f"+86{phone}"]
        request.SmsSdkAppId = settings.SMS_TENCENT_SDK_APP_ID
        request.SignName = settings.SMS_SIGN_NAME
        request.TemplateId = str(template_id)
        request.TemplateParamSet = [params[name] for name in tpl.params]
        client = self._client()
        try:
            response = client.SendSms(request)
        except TencentCloudSDKException as exc:
            error = exc.get_code() or "ClientNetworkError"
        else:
            error = None
        if error is not None:  # raised here, outside the handler: no SDK message chained into a traceback
            log.warning("sms %s to %s: tencent answered %s", template, mask_phone(phone), error)
            _raise_for(error, "")
        status = (response.SendStatusSet or [None])[0]
        if status is None:
            raise SmsUnavailable("tencent: no SendStatusSet in the answer", code="NoStatus")
        if status.Code != "Ok":
            log.warning("sms %s to %s: tencent refused %s", template, mask_phone(phone), status.Code)
            _raise_for(status.Code or "", status.Message or "")
        log.info("sms %s to %s sent by tencent, serial %s", template, mask_phone(phone), status.SerialNo)
