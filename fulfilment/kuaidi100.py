"""Kuaidi100 (快递100) behind `Carrier`: e-waybills (电子面单) and push tracking (订阅推送).

No maintained Python SDK for these APIs is on PyPI (`kd100`, `exp100` are old tracking-query scripts,
`kuaidi100-mcp` is an MCP server); Kuaidi100's own `kuaidi100-api/python-demo` on GitHub is sample
code, not a package. The protocol is three small form posts, so this module speaks it with
`requests`. Sources, read 2026-12:

- E-waybill order, https://api.kuaidi100.com/document/dianzimiandanV2 (and the official Java SDK
  `kuaidi100-api/java-demo`, `request/labelV2/OrderReq.java`, `response/labelV2/OrderResult.java`):
  POST `{KUAIDI100_API_BASE}/label/order`, form fields `method=order`, `key`, `t` (ms timestamp),
  `param` (JSON) and `sign` = upper-case MD5 of param + t + key + secret. In `param` we send
  `printType=IMAGE` (answer a label image short link), `partnerId`/`partnerKey`/`net` (the
  e-waybill account at the courier), `kuaidicom` (company code), `recMan` / `sendMan`
  {name, mobile, printAddr}, `cargo`, `count=1`, `tempId` (label template), `orderId`. The answer
  is `{"code": 200, "message", "data": {"kuaidinum", "label", "taskId", ...}}`; other codes are
  refusals (30001 bad parameter, 30002 bad signature, 30003 bad key, 30004 no waybill quota),
  `-1` / 5xx a server fault.
- E-waybill cancel (电子面单取消接口), https://api.kuaidi100.com/document/dianzimiandanquxiao: the
  same URL and signature with `method=cancel`; `param` carries the e-waybill account as the order
  sent it (`partnerId`, `partnerKey`, `net` when set: required if the order had them),
  `kuaidicom`, `kuaidinum`, `orderId` (the courier's order number, the order answer's
  `kdComOrderNum`: required when it answered one, so we keep it on the shipment) and `reason`. The
  answer is `success` true (code 200) or a code: 201 取消失败 (the courier will not: collected, too
  late), 400 bad parameter, 503 bad signature are final; 500 (and a 5xx or a timeout) is a server
  fault, tried again later. A waybill cancelled before (our first try's answer lost) has no code
  of its own: this document lists none, and the C端寄件 cancel document (apifox.com/apidoc/
  project-514987/api-55507305, code 500) says cancelling a cancelled order answers 500. So the
  message decides: one that says the order is cancelled already (已取消, 已经取消, 重复取消),
  whatever its code, is success, as cancelling is idempotent; to confirm the exact wording with
  Kuaidi100 before going live.
- Subscription, https://api.kuaidi100.com/document/5f0ffb5ebc8da837cbd8aefc (mirrored at
  apifox.com/apidoc/project-514987 "快递订阅查询快递api接口技术文档"): POST `{KUAIDI100_POLL_BASE}/poll`,
  form `schema=json`, `param` = {company, number, key, parameters: {callbackurl, salt, resultv2,
  phone}}; answer `{"result", "returnCode", "message"}`: 200 taken, 501 already subscribed (fine
  for us: a retried task), 500 server fault, others a refusal.
- Push, apifox.com/apidoc/project-514987/api-8568518 "推送接口": Kuaidi100 POSTs a form with `param`
  (JSON: status polling/shutdown/abort/updateall, message, lastResult {state, nu, com, data: newest
  first [{context, time, ftime}]}) and `sign` = MD5(param + salt); it expects
  `{"result": true, "returnCode": "200", "message": "成功"}`, and pushes again (every 30 minutes,
  3 times) on anything else.
- States, the same page and the real-time query document (api-8562559): 0 在途, 1 揽收, 2 疑难,
  3 签收, 4 退签, 5 派件, 6 退回, 7 转投, 8 清关, 14 拒签 (with resultv2=1 the main states only).

Each parcel's pushes name it. A waybill number is unique per shop only (two shops may type the
same one), so a push is matched by the parcel its subscription named, not by its number: the
subscription's `callbackurl` carries our parcel reference (`?ref=slot-<id>`; the documents and the
official SDKs, e.g. `kuaidi100-api/java-demo` `SubscribeParameters.callbackurl`, say business
parameters may be appended to the callback URL and come back with each push), and its `salt` (a
32-character string of ours) is derived for that parcel from `KUAIDI100_PUSH_SALT`
(HMAC-SHA256), so a push signed for one parcel does not verify at another parcel's URL. A push
whose parcel no longer carries its number (or has none), or whose e-waybill we cancelled, is
answered success and changes nothing.

Exactly one waybill per parcel: `orderId` carries our request key (`slot-<id>`). The documents
require it unique per order but publish no lookup by it, so a dispatch retried after a timeout
relies on Kuaidi100 answering the same `orderId` with the waybill it already issued (what the test
double does; to confirm with Kuaidi100 before going live). Our side guarantees the rest: one
Shipment row per slot, created before the call, and a waybill number once recorded is never asked
for again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import datetime
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone

from giftshop.errors import AppError, ProviderUnavailable
from shops.models import CourierCompany

from .carriers import Parcel, TrackingNotice, Waybill
from .error_codes import BAD_NOTIFICATION, BAD_SIGNATURE, CARRIER_REFUSED

log = logging.getLogger(__name__)

NOTIFY_PATH = "/api/v1/carriers/notify/kuaidi100/"

# Kuaidi100's main states (lastResult.state) → ours. 派件 is still in transit: out for delivery.
STATES = {
    "1": "collected",
    "0": "in_transit",
    "5": "in_transit",
    "3": "delivered",
    "2": "exception",  # 疑难
    "4": "exception",  # 退签
    "6": "exception",  # 退回
    "14": "exception",  # 拒签
}
# What a cancel answer's message says when the e-waybill was cancelled before (no code says it).
ALREADY_CANCELLED = ("已取消", "已经取消", "重复取消", "已被取消")
# Companies whose tracking Kuaidi100 answers only with the receiver's or sender's phone.
PHONE_REQUIRED = {"shunfeng", "shunfengkuaiyun", "zhongtong"}
_CHINA = ZoneInfo("Asia/Shanghai")  # Kuaidi100's scan times are Beijing time without an offset


def _md5_upper(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest().upper()  # noqa: S324 (Kuaidi100's signature scheme)


def order_sign(param: str, t: str, key: str, secret: str) -> str:
    return _md5_upper(param + t + key + secret)


def push_sign(param: str, salt: str) -> str:
    return _md5_upper(param + salt)


def push_salt(reference: str) -> str:
    """The salt one parcel's subscription gives Kuaidi100 (32 characters, as it asks). Without a
    reference: the site's salt, which subscriptions made before the per-parcel salts carried."""
    if not reference:
        return settings.KUAIDI100_PUSH_SALT
    key = settings.KUAIDI100_PUSH_SALT.encode()
    return hmac.new(key, b"kuaidi100-push:" + reference.encode(), hashlib.sha256).hexdigest()[:32]


def callback_url(reference: str) -> str:
    """Where Kuaidi100 pushes one parcel's tracking: our notify URL with the parcel's reference."""
    return settings.SITE_URL.rstrip("/") + NOTIFY_PATH + "?" + urlencode({"ref": reference})


class Kuaidi100Carrier:
    name = "kuaidi100"

    @classmethod
    def available(cls) -> bool:
        return bool(
            settings.KUAIDI100_KEY
            and settings.KUAIDI100_SECRET
            and settings.KUAIDI100_PUSH_SALT
            and settings.KUAIDI100_PARTNER_ID
        )

    @classmethod
    def configuration_errors(cls) -> list[str]:
        """Found at start-up rather than by the first parcel (no request is made here)."""
        errors = []
        if settings.KUAIDI100_DEFAULT_COMPANY not in CourierCompany.values:
            errors.append("KUAIDI100_DEFAULT_COMPANY is not a known Kuaidi100 company code.")
        if not settings.KUAIDI100_TEMPLATE_ID:
            errors.append("KUAIDI100_TEMPLATE_ID is required for a printable label (printType IMAGE).")
        if len(settings.KUAIDI100_PUSH_SALT) < 16:
            errors.append("KUAIDI100_PUSH_SALT must be a random string of at least 16 characters.")
        if not settings.SITE_URL.startswith("https://"):
            errors.append("SITE_URL must be https: Kuaidi100 pushes tracking to SITE_URL + " + NOTIFY_PATH)
        return errors

    # ----- the calls -----

    def __init__(self) -> None:
        # One instance serves a waybill batch, whose calls run on several threads: they share the
        # kept-alive HTTPS connections (one TLS handshake per connection, not per parcel).
        self._session = requests.Session()
        pool = max(10, settings.COURIER_CONCURRENCY)
        self._session.mount("https://", requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=pool))
        self._session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=pool))

    def _post(self, url: str, form: dict) -> dict:
        """One form post; a timeout, a refused connection, a 5xx or a non-JSON answer is temporary."""
        try:
            answer = self._session.post(url, data=form, timeout=settings.KUAIDI100_TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"kuaidi100: {type(exc).__name__}") from exc
        if answer.status_code >= 500:
            raise ProviderUnavailable(f"kuaidi100: HTTP {answer.status_code}")
        try:
            data = answer.json()
        except ValueError as exc:
            raise ProviderUnavailable(f"kuaidi100: HTTP {answer.status_code}, not JSON") from exc
        if not isinstance(data, dict):
            raise ProviderUnavailable("kuaidi100: unexpected answer")
        return data

    def create_waybill(self, parcel: Parcel) -> Waybill:
        company = parcel.company or settings.KUAIDI100_DEFAULT_COMPANY
        data = self._label_call(
            "order",
            {
                "printType": "IMAGE",
                "partnerId": settings.KUAIDI100_PARTNER_ID,
                "partnerKey": settings.KUAIDI100_PARTNER_KEY,
                "net": settings.KUAIDI100_NET,
                "kuaidicom": company,
                "recMan": {
                    "name": parcel.receiver_name,
                    "mobile": parcel.receiver_phone,
                    "printAddr": parcel.receiver_address,
                },
                "sendMan": {
                    "name": parcel.sender_name,
                    "mobile": parcel.sender_phone,
                    "printAddr": parcel.sender_address,
                },
                "cargo": parcel.description[:50],
                "count": 1,
                "tempId": settings.KUAIDI100_TEMPLATE_ID,
                "orderId": parcel.request_key,
            },
        )
        code = str(data.get("code", ""))
        if code == "-1":
            raise ProviderUnavailable("kuaidi100: server error (-1)")
        body = data.get("data") or {}
        number = str(body.get("kuaidinum") or "") if isinstance(body, dict) else ""
        if code != "200" or not number:
            log.warning("kuaidi100 refused the e-waybill order: code=%s", code)  # the message may echo the address
            raise AppError(CARRIER_REFUSED, f"快递100 拒绝了面单请求（{code}）")
        return Waybill(
            number=number[:64],
            label_url=str(body.get("label") or "")[:500],
            company=company,
            order_no=str(body.get("kdComOrderNum") or "")[:64],
        )

    def cancel_waybill(self, *, waybill_no: str, company: str, reference: str, order_no: str = "") -> str:
        """Take back an e-waybill the parcel will not use (`reference` is ours: Kuaidi100 knows the
        waybill by number and by the courier's order number). 'cancelled'; a refusal raises an
        AppError, a server fault ProviderUnavailable."""
        fields = {
            "partnerId": settings.KUAIDI100_PARTNER_ID,
            "partnerKey": settings.KUAIDI100_PARTNER_KEY,
            "net": settings.KUAIDI100_NET,
        }
        param_data = {name: value for name, value in fields.items() if value}
        param_data.update(kuaidicom=company or settings.KUAIDI100_DEFAULT_COMPANY, kuaidinum=waybill_no)
        if order_no:
            param_data["orderId"] = order_no
        param_data["reason"] = "订单已退款，不再发货"
        data = self._label_call("cancel", param_data)
        code = str(data.get("code", data.get("returnCode", "")))
        if data.get("success") is True or code == "200":
            return "cancelled"
        if code != "503" and any(words in str(data.get("message") or "") for words in ALREADY_CANCELLED):
            log.info("kuaidi100 cancel: the e-waybill was cancelled before (code=%s)", code)
            return "already"
        if code in ("500", "-1"):
            raise ProviderUnavailable(f"kuaidi100 cancel: server error ({code})")
        log.warning("kuaidi100 refused to cancel the e-waybill: code=%s", code)
        raise AppError(CARRIER_REFUSED, f"快递100 拒绝取消面单（{code or '无代码'}）")

    def _label_call(self, method: str, param_data: dict) -> dict:
        """One call of the e-waybill API (`label/order`): the param as compact JSON, signed
        MD5(param + t + key + secret)."""
        param = json.dumps(param_data, ensure_ascii=False, separators=(",", ":"))
        t = str(int(time.time() * 1000))
        form = {
            "method": method,
            "key": settings.KUAIDI100_KEY,
            "t": t,
            "param": param,
            "sign": order_sign(param, t, settings.KUAIDI100_KEY, settings.KUAIDI100_SECRET),
        }
        return self._post(self._label_url(), form)

    @staticmethod
    def _label_url() -> str:
        return settings.KUAIDI100_API_BASE.rstrip("/") + "/label/order"

    def subscribe_tracking(self, *, waybill_no: str, company: str, reference: str, phone: str = "") -> str:
        """Ask Kuaidi100 to push this waybill's tracking to this parcel's notify URL, signed with
        this parcel's salt. 'subscribed' or 'already'; a refusal (unknown company, bad number) is
        logged and answered 'refused' so the task is not retried for ever."""
        parameters = {"callbackurl": callback_url(reference), "salt": push_salt(reference), "resultv2": "1"}
        if phone and company in PHONE_REQUIRED:
            parameters["phone"] = phone
        param = json.dumps(
            {"company": company, "number": waybill_no, "key": settings.KUAIDI100_KEY, "parameters": parameters},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        data = self._post(settings.KUAIDI100_POLL_BASE.rstrip("/") + "/poll", {"schema": "json", "param": param})
        code = str(data.get("returnCode", ""))
        if code == "200":
            return "subscribed"
        if code == "501":  # 重复订阅: a retried task whose first try was taken
            return "already"
        if code == "500":
            raise ProviderUnavailable("kuaidi100 poll: server error (500)")
        log.error("kuaidi100 refused the tracking subscription: code=%s company=%s", code, company)
        return "refused"

    # ----- the push -----

    def parse_notification(self, *, body: bytes, headers, query=None) -> TrackingNotice:
        """`query`: our callback URL's parameters, the parcel's `ref` among them (the signature is
        checked with that parcel's salt, so a push cannot be carried to another parcel's URL)."""
        reference = (query or {}).get("ref") or ""
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError as exc:
            raise AppError(BAD_NOTIFICATION, "Notification body is not UTF-8.") from exc
        param, sign = (form.get("param") or [""])[0], (form.get("sign") or [""])[0]
        if not param:
            raise AppError(BAD_NOTIFICATION, "Notification has no param.")
        expected = push_sign(param, push_salt(reference))
        if not hmac.compare_digest(sign.upper().encode(), expected.encode()):
            raise AppError(BAD_SIGNATURE, "Notification signature does not verify.")
        try:
            data = json.loads(param)
            last = data["lastResult"]
            number = str(last["nu"]).strip()
            state = str(last.get("state", "")).strip()
            scans = last.get("data") or []
            latest = scans[0] if scans else {}
            if not number or not isinstance(latest, dict):
                raise ValueError("no waybill number")
            scanned = str(latest.get("ftime") or latest.get("time") or "")
            description = str(latest.get("context") or data.get("message") or "")
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise AppError(BAD_NOTIFICATION, "Notification param is malformed.") from exc
        status = STATES.get(state, f"kuaidi100:{state[:10] or 'none'}")
        if data.get("status") == "abort":  # Kuaidi100 stopped tracking (no scans for 3 days, none for 60)
            status, description = "exception", f"快递100停止跟踪：{data.get('message', '')}"
        event_id = f"{number}:{state}:{scanned}:{data.get('status', '')}"
        if len(event_id) > 64:
            event_id = "k100:" + hashlib.sha256(event_id.encode()).hexdigest()[:59]
        return TrackingNotice(
            event_id=event_id,
            waybill_no=number[:64],
            status=status,
            description=description[:200],
            occurred_at=_occurred_at(scanned),
            reference=reference,
        )

    @staticmethod
    def notification_answer(*, ok: bool, detail: str) -> JsonResponse:
        """Kuaidi100 reads `result`: false makes it push again later. Always HTTP 200, never a 5xx."""
        if ok:
            return JsonResponse({"result": True, "returnCode": "200", "message": "成功"})
        return JsonResponse({"result": False, "returnCode": "500", "message": detail})


def _occurred_at(text: str) -> str:
    try:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=_CHINA)
    except ValueError:
        return timezone.now().isoformat()  # no usable scan time: when we heard of it
    return moment.isoformat()
