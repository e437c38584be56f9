"""A local Tencent Cloud SMS for the tests: a real HTTP server on 127.0.0.1 that speaks API 3.0
(SendSms, version 2021-01-11) with a SecretId / SecretKey made fresh for each test.

It checks every request's TC3-HMAC-SHA256 `Authorization` header the way the API documents it
(canonical request over the signed headers and the body's SHA-256; string to sign with the
timestamp and the credential scope; key derived from "TC3" + SecretKey, date, service,
"tc3_request") and answers a wrong one with `AuthFailure.SignatureFailure`; an unknown SecretId with
`AuthFailure.SecretIdNotFound`; a stale timestamp with `AuthFailure.SignatureExpire`. It checks the
SdkAppId, the signature name and the template (and its number of parameters) and answers the
documented `Response` with one `SendStatusSet` entry per number: `Ok`, or the code set for that
number (`InvalidParameterValue.IncorrectPhoneNumber` for anything that is not +86 and 11 digits).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler

from tests.doubles import LocalServer

SERVICE = "sms"
AUTH_RE = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[^/]+)/tc3_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})$"
)
STATUS_MESSAGES = {
    "Ok": "send success",
    "InvalidParameterValue.IncorrectPhoneNumber": "incorrect phone number",
    "LimitExceeded.PhoneNumberDailyLimit": "the number of SMS messages sent from a single mobile number every day exceeds the upper limit",
    "LimitExceeded.PhoneNumberThirtySecondLimit": "the number of SMS messages sent from a single mobile number within 30 seconds exceeds the upper limit",
}


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_signature(
    *,
    secret_key: str,
    method: str,
    path: str,
    query: str,
    headers: dict,
    signed: list[str],
    body: bytes,
    timestamp: int,
    date: str,
    service: str = SERVICE,
) -> str:
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip().lower()}\n" for name in signed)
    canonical_request = "\n".join(
        [method, path, query, canonical_headers, ";".join(signed), hashlib.sha256(body).hexdigest()]
    )
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


class TencentSmsDouble(LocalServer):
    def __init__(self):
        self.secret_id = "AKID" + secrets.token_hex(16)
        self.secret_key = secrets.token_hex(16)
        self.sdk_app_id = "14000" + str(secrets.randbelow(10**5)).zfill(5)
        self.sign_name = "礼物小店"
        # our template key -> (template id, number of parameters), as approved in the console
        self.templates = {
            key: (str(1_000_000 + i), n)
            for i, (key, n) in enumerate({"login_code": 2, "gift_link": 4, "gift_reminder": 4, "gift_code": 2}.items())
        }
        self.sent: list[dict] = []  # the messages accepted: phone, template id, params
        self.requests: list[dict] = []
        self.refused: list[str] = []  # error codes answered
        self.status_for: dict[str, str] = {}  # "+8613800138000" -> a SendStatusSet code other than Ok
        self.stall_next = 0  # the next n requests: answer nothing until the client has given up; send nothing
        self.stall_seconds = 3.0
        self.down = False  # answer 502 from the gateway in front of the API
        self._listen()

    def settings(self) -> dict:
        return {
            "SMS_PROVIDER": "tencent",
            "SMS_SIGN_NAME": self.sign_name,
            "SMS_TENCENT_SECRET_ID": self.secret_id,
            "SMS_TENCENT_SECRET_KEY": self.secret_key,
            "SMS_TENCENT_SDK_APP_ID": self.sdk_app_id,
            "SMS_TENCENT_REGION": "ap-guangzhou",
            "SMS_TENCENT_ENDPOINT": self.url,
            "SMS_TENCENT_TEMPLATES": {key: tid for key, (tid, _) in self.templates.items()},
            "SMS_TIMEOUT_SECONDS": 1,
        }

    def template_key(self, template_id: str) -> str | None:
        return next((k for k, (tid, _) in self.templates.items() if tid == template_id), None)

    # ----- the HTTP side -----

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                double.requests.append({"path": self.path, "headers": headers, "body": body})
                if double.stall_next > 0:
                    double.stall_next -= 1
                    time.sleep(double.stall_seconds)
                    return  # nothing sent, and the client has given up by now
                if double.down:
                    return self._answer({"message": "bad gateway"}, status=502)
                self._answer(double._send_sms(self.command, self.path, headers, body))

            def _answer(self, data: dict, status: int = 200):
                payload = json.dumps(data, ensure_ascii=False).encode()
                try:
                    self.send_response(status)  # API 3.0 answers its errors with 200 and Response.Error
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler

    def _error(self, code: str, message: str) -> dict:
        self.refused.append(code)
        return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": secrets.token_hex(16)}}

    def _send_sms(self, method: str, path: str, headers: dict, body: bytes) -> dict:
        match = AUTH_RE.match(headers.get("authorization", ""))
        if match is None:
            return self._error("AuthFailure.InvalidAuthorization", "Authorization header is malformed")
        if match["id"] != self.secret_id:
            return self._error("AuthFailure.SecretIdNotFound", "The SecretId is not found")
        try:
            timestamp = int(headers.get("x-tc-timestamp", ""))
        except ValueError:
            return self._error("MissingParameter", "X-TC-Timestamp is missing")
        if abs(time.time() - timestamp) > 300:
            return self._error("AuthFailure.SignatureExpire", "Signature expired")
        signed = match["signed"].split(";")
        if "host" not in signed or "content-type" not in signed:
            return self._error("AuthFailure.InvalidAuthorization", "host and content-type must be signed")
        date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        path_only, _, query = path.partition("?")
        expected = tc3_signature(
            secret_key=self.secret_key,
            method=method,
            path=path_only,
            query=query,
            headers=headers,
            signed=signed,
            body=body,
            timestamp=timestamp,
            date=date,
            service=match["service"],
        )
        if match["date"] != date or match["service"] != SERVICE or not hmac.compare_digest(expected, match["sig"]):
            return self._error(
                "AuthFailure.SignatureFailure",
                "The provided credentials could not be validated. Please check your signature is correct.",
            )
        if headers.get("x-tc-action") != "SendSms" or headers.get("x-tc-version") != "2021-01-11":
            return self._error("InvalidAction", "no such action in the test double")
        try:
            request = json.loads(body)
        except ValueError:
            return self._error("InvalidParameter", "the body is not JSON")
        if request.get("SmsSdkAppId") != self.sdk_app_id:
            return self._error("FailedOperation.SmsSdkAppIdVerifyFail", "SdkAppId verify failed")
        if request.get("SignName") != self.sign_name:
            return self._error("FailedOperation.SignatureIncorrectOrUnapproved", "signature not approved")
        key = self.template_key(request.get("TemplateId", ""))
        if key is None:
            return self._error("FailedOperation.TemplateIncorrectOrUnapproved", "template not approved")
        params = request.get("TemplateParamSet") or []
        if len(params) != self.templates[key][1] or not all(isinstance(p, str) for p in params):
            return self._error("FailedOperation.TemplateParamSetNotMatchApprovedTemplate", "parameters do not match")
        statuses = []
        for number in request.get("PhoneNumberSet") or []:
            code = self.status_for.get(number, "Ok")
            if not re.fullmatch(r"\+861\d{10}", number):
                code = "InvalidParameterValue.IncorrectPhoneNumber"
            if code == "Ok":
                self.sent.append(
                    {"phone": number, "template_id": request["TemplateId"], "template": key, "params": params}
                )
            else:
                self.refused.append(code)
            statuses.append(
                {
                    "SerialNo": secrets.token_hex(10) if code == "Ok" else "",
                    "PhoneNumber": number,
                    "Fee": 1 if code == "Ok" else 0,
                    "SessionContext": request.get("SessionContext", ""),
                    "Code": code,
                    "Message": STATUS_MESSAGES.get(code, code),
                    "IsoCode": "CN",
                }
            )
        return {"Response": {"SendStatusSet": statuses, "RequestId": secrets.token_hex(16)}}
