"""A local Aliyun SMS (Dysmsapi 2017-05-25) for the tests: a real HTTP server on 127.0.0.1 that
answers SendSms with an AccessKey made fresh for each test.

The SDK pinned in requirements.txt (alibabacloud_dysmsapi20170525 on alibabacloud-tea-openapi) signs
with the V3 scheme, ACS3-HMAC-SHA256: an `Authorization` header over the canonical request (method,
path, the sorted and percent-encoded query, the signed headers, the body's SHA-256 also sent as
`x-acs-content-sha256`). The double recomputes it with the secret and answers a wrong one as Aliyun
does (HTTP 400, `SignatureDoesNotMatch`), an unknown key with `InvalidAccessKeyId.NotFound`, a nonce
used twice with `SignatureNonceUsed`. A signed request gets the documented body: `{"Code": "OK",
"BizId", "RequestId", "Message"}`, or an `isv.*` code (not a mainland mobile, template or signature
not approved, missing parameters, or the code set for that number, such as
`isv.BUSINESS_LIMIT_CONTROL`).
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
from urllib.parse import parse_qsl, quote, urlsplit

from tests.doubles import LocalServer

AUTH_RE = re.compile(
    r"^ACS3-HMAC-SHA256 Credential=(?P<id>[^,]+),SignedHeaders=(?P<signed>[a-z0-9;-]+),Signature=(?P<sig>[0-9a-f]{64})$"
)


def _enc(value: str) -> str:
    return quote(value, safe="-_.~")


def acs3_signature(*, secret: str, method: str, path: str, query: dict, headers: dict, signed: list[str]) -> str:
    canonical_query = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(query.items()))
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    canonical_request = "\n".join(
        [
            method,
            path or "/",
            canonical_query,
            canonical_headers,
            ";".join(signed),
            headers.get("x-acs-content-sha256", ""),
        ]
    )
    string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical_request.encode()).hexdigest()
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


class AliyunSmsDouble(LocalServer):
    def __init__(self):
        self.access_key_id = "LTAI" + secrets.token_hex(10)
        self.access_key_secret = secrets.token_hex(15)
        self.sign_name = "礼物小店"
        # our template key -> (template code, parameter names), as approved in the console
        self.templates = {
            "login_code": ("SMS_" + str(460000001), {"code", "minutes"}),
            "gift_link": ("SMS_" + str(460000002), {"name", "sender", "product", "token"}),
            "gift_reminder": ("SMS_" + str(460000003), {"name", "sender", "product", "token"}),
            "gift_code": ("SMS_" + str(460000004), {"code", "minutes"}),
        }
        self.sent: list[dict] = []
        self.requests: list[dict] = []
        self.refused: list[str] = []
        self.code_for: dict[str, tuple[str, str]] = {}  # phone -> (Code, Message) answered instead of OK
        self.stall_next = 0  # the next n requests: answer nothing until the client has given up; send nothing
        self.stall_seconds = 3.0
        self.down = False  # answer 503 ServiceUnavailable, as the gateway does when it is overloaded
        self._nonces: set[str] = set()
        self._listen()

    def settings(self) -> dict:
        return {
            "SMS_PROVIDER": "aliyun",
            "SMS_SIGN_NAME": self.sign_name,
            "SMS_ALIYUN_ACCESS_KEY_ID": self.access_key_id,
            "SMS_ALIYUN_ACCESS_KEY_SECRET": self.access_key_secret,
            "SMS_ALIYUN_ENDPOINT": self.url,
            "SMS_ALIYUN_TEMPLATES": {key: code for key, (code, _) in self.templates.items()},
            "SMS_TIMEOUT_SECONDS": 1,
        }

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                url = urlsplit(self.path)
                query = dict(parse_qsl(url.query, keep_blank_values=True))
                double.requests.append({"path": self.path, "headers": headers, "query": query, "body": body})
                if double.stall_next > 0:
                    double.stall_next -= 1
                    time.sleep(double.stall_seconds)
                    return
                if double.down:
                    status, data = double._fail(
                        503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."
                    )
                else:
                    status, data = double._send_sms(self.command, url.path, query, headers, body)
                payload = json.dumps(data, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json;charset=utf-8")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler

    def _fail(self, status: int, code: str, message: str) -> tuple[int, dict]:
        self.refused.append(code)
        return status, {"RequestId": secrets.token_hex(16).upper(), "Code": code, "Message": message}

    def _send_sms(self, method, path, query, headers, body) -> tuple[int, dict]:
        match = AUTH_RE.match(headers.get("authorization", ""))
        if match is None:
            return self._fail(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
        if match["id"] != self.access_key_id:
            return self._fail(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        signed = match["signed"].split(";")
        if not {"host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce"} <= set(signed):
            return self._fail(400, "IncompleteSignature", "host and the x-acs-* headers must be signed.")
        if headers.get("x-acs-content-sha256") != hashlib.sha256(body).hexdigest():
            return self._fail(400, "SignatureDoesNotMatch", "The payload hash does not match.")
        expected = acs3_signature(
            secret=self.access_key_secret, method=method, path=path, query=query, headers=headers, signed=signed
        )
        if not hmac.compare_digest(expected, match["sig"]):
            return self._fail(400, "SignatureDoesNotMatch", "Specified signature does not match our calculation.")
        try:
            when = datetime.strptime(headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return self._fail(
                400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted."
            )
        if abs(time.time() - when.timestamp()) > 900:
            return self._fail(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        nonce = headers.get("x-acs-signature-nonce", "")
        if nonce in self._nonces:
            return self._fail(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        self._nonces.add(nonce)
        if headers.get("x-acs-action") != "SendSms" or headers.get("x-acs-version") != "2017-05-25":
            return self._fail(400, "InvalidAction.NotFound", "no such action in the test double")
        request_id = secrets.token_hex(16).upper()
        phone = query.get("PhoneNumbers", "")
        if query.get("SignName") != self.sign_name:
            return self._fail(200, "isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        key = next((k for k, (code, _) in self.templates.items() if code == query.get("TemplateCode")), None)
        if key is None:
            return self._fail(200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        try:
            params = json.loads(query.get("TemplateParam") or "{}")
        except ValueError:
            return self._fail(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法")
        if set(params) != self.templates[key][1] or not all(isinstance(v, str) for v in params.values()):
            return self._fail(200, "isv.TEMPLATE_MISSING_PARAMETERS", "模版缺少变量")
        if not re.fullmatch(r"1\d{10}", phone):
            return self._fail(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if phone in self.code_for:
            return self._fail(200, *self.code_for[phone])
        self.sent.append({"phone": phone, "template_code": query["TemplateCode"], "template": key, "params": params})
        return 200, {"Code": "OK", "Message": "OK", "BizId": f"{secrets.randbelow(10**15)}^0", "RequestId": request_id}
