"""WeChat Pay API v3 behind `PaymentProvider`, through the maintained `wechatpayv3` SDK.

The SDK signs our requests (RSA-SHA256, `WECHATPAY2-SHA256-RSA2048`), verifies the platform's
answers and notifications (platform public key, or platform certificates it fetches and refreshes)
and decrypts notification resources (AEAD_AES_256_GCM with the APIv3 key). Here: which API a payer
gets (JSAPI in WeChat, H5 on other phones, Native QR on desktops), service-provider mode, the
checks on what a notification says, and the answers WeChat Pay expects.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import secrets
import time
from functools import lru_cache

import requests
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.core import Core

from giftshop.errors import AppError, ProviderUnavailable

from . import error_codes as E
from .models import Payment
from .providers import (
    CHANNEL_DESKTOP,
    CHANNEL_WECHAT,
    Bill,
    BillLine,
    Checkout,
    OrderQuery,
    PaymentNotice,
    pem_setting,
    yuan_to_fen,
)

log = logging.getLogger(__name__)

NOTIFY_PATH = "/api/v1/payments/notify/wechatpay/"
# A notification older or newer than this is refused (its signature covers the timestamp).
NOTIFY_TOLERANCE_SECONDS = 300
_TRADE_STATES = {
    "SUCCESS": "paid",
    "REFUND": "paid",
    "NOTPAY": "created",
    "USERPAYING": "created",
    "CLOSED": "closed",
    "REVOKED": "closed",
    "PAYERROR": "closed",
}


class _Core(Core):
    """The SDK's core with its API base taken from `WECHATPAY_API_BASE` (a proxy, or a test double)
    before its first request: in certificate mode it fetches the platform certificates at once."""

    def __init__(self, *, gateway: str, **kwargs):
        self._configured_gateway = gateway.rstrip("/")
        super().__init__(**kwargs)
        self._gate_way = self._configured_gateway

    def _init_certificates(self):
        self._gate_way = self._configured_gateway
        super()._init_certificates()


@lru_cache(maxsize=4)
def _client(config: tuple) -> WeChatPay:
    """One SDK client per process and configuration (it caches the platform certificates)."""
    cfg = dict(config)
    # WeChatPay's own constructor would build a core bound to the official host; build the same
    # object around our core (wechatpayv3 is pinned: tests/payments/test_wechatpay.py runs it).
    client = WeChatPay.__new__(WeChatPay)
    client._type = WeChatPayType.NATIVE
    client._mchid = cfg["mchid"]
    client._appid = cfg["appid"]
    client._notify_url = cfg["notify_url"]
    client._partner_mode = cfg["partner_mode"]
    client._core = _Core(
        gateway=cfg["gateway"],
        mchid=cfg["mchid"],
        cert_serial_no=cfg["cert_serial_no"],
        private_key=cfg["private_key"],
        apiv3_key=cfg["apiv3_key"],
        cert_dir=cfg["cert_dir"] or None,
        logger=None,  # the SDK's debug log prints whole bodies and headers: never enable it
        proxy=None,
        timeout=cfg["timeout"],
        public_key=cfg["public_key"] or None,
        public_key_id=cfg["public_key_id"] or None,
    )
    return client


class WeChatPayProvider:
    name = "wechatpay"
    label = _("微信支付")

    @classmethod
    def available(cls) -> bool:
        return bool(settings.WECHATPAY_MCHID and settings.WECHATPAY_PRIVATE_KEY and settings.WECHATPAY_APIV3_KEY)

    @classmethod
    def configuration_errors(cls) -> list[str]:
        """Keys that do not load, a key of the wrong length, half of public key mode: found at
        start-up rather than by the first payer (no request is made here)."""
        errors = []
        try:
            load_pem_private_key(pem_setting(settings.WECHATPAY_PRIVATE_KEY).encode(), password=None)
        except (ValueError, TypeError):
            errors.append("WECHATPAY_PRIVATE_KEY is not a PEM private key (text or path).")
        if len(settings.WECHATPAY_APIV3_KEY.encode()) != 32:
            errors.append("WECHATPAY_APIV3_KEY must be the 32-character APIv3 key.")
        if bool(settings.WECHATPAY_PUBLIC_KEY) != bool(settings.WECHATPAY_PUBLIC_KEY_ID):
            errors.append("WECHATPAY_PUBLIC_KEY and WECHATPAY_PUBLIC_KEY_ID go together (platform public key mode).")
        elif settings.WECHATPAY_PUBLIC_KEY:
            try:
                load_pem_public_key(pem_setting(settings.WECHATPAY_PUBLIC_KEY).encode())
            except (ValueError, TypeError):
                errors.append("WECHATPAY_PUBLIC_KEY is not a PEM public key (text or path).")
        if not settings.WECHATPAY_CERT_SERIAL_NO or not settings.WECHATPAY_APPID:
            errors.append("WECHATPAY_CERT_SERIAL_NO and WECHATPAY_APPID are required.")
        return errors

    # ----- the SDK client and the calls -----

    def _config(self) -> tuple:
        return tuple(
            sorted(
                {
                    "mchid": settings.WECHATPAY_MCHID,
                    "appid": settings.WECHATPAY_APPID,
                    "apiv3_key": settings.WECHATPAY_APIV3_KEY,
                    "private_key": pem_setting(settings.WECHATPAY_PRIVATE_KEY),
                    "cert_serial_no": settings.WECHATPAY_CERT_SERIAL_NO,
                    "public_key": pem_setting(settings.WECHATPAY_PUBLIC_KEY),
                    "public_key_id": settings.WECHATPAY_PUBLIC_KEY_ID,
                    "cert_dir": settings.WECHATPAY_CERT_DIR,
                    "partner_mode": settings.WECHATPAY_PARTNER_MODE,
                    "gateway": settings.WECHATPAY_API_BASE,
                    "notify_url": settings.SITE_URL.rstrip("/") + NOTIFY_PATH,
                    "timeout": settings.WECHATPAY_TIMEOUT_SECONDS,
                }.items()
            )
        )

    @property
    def client(self) -> WeChatPay:
        try:
            return _client(self._config())
        except requests.RequestException as exc:  # certificate mode fetches certificates first
            raise ProviderUnavailable(f"WeChat Pay unreachable: {type(exc).__name__}") from exc

    def _call(self, method, **kwargs) -> tuple[int, dict]:
        """One API call; a network failure or a 5xx is temporary (ProviderUnavailable)."""
        try:
            code, text = method(**kwargs)
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"WeChat Pay unreachable: {type(exc).__name__}") from exc
        except Exception as exc:  # noqa: BLE001 (the SDK raises a bare Exception when an answer's signature fails)
            raise ProviderUnavailable(f"WeChat Pay answer refused: {exc}") from exc
        if code >= 500:
            raise ProviderUnavailable(f"WeChat Pay answered {code}")
        try:
            data = json.loads(text) if text else {}
        except (TypeError, ValueError):
            data = {}
        return code, data if isinstance(data, dict) else {}

    def _sub_mchid(self, out_trade_no: str) -> dict:
        """Service-provider mode: the shop's own merchant number, so its money settles to it."""
        if not settings.WECHATPAY_PARTNER_MODE:
            return {}
        shop = Payment.objects.select_related("gift__shop").get(out_trade_no=out_trade_no).gift.shop
        if not shop.wechatpay_sub_mchid:
            raise AppError(E.PROVIDER_NOT_CONFIGURED, "这家店还没有设置微信支付子商户号")
        return {"sub_mchid": shop.wechatpay_sub_mchid}

    # ----- PaymentProvider -----

    def prepay(self, *, out_trade_no: str, amount_fen: int, description: str) -> str:
        """Nothing at WeChat Pay yet: which API to call depends on where the payer opens the cashier."""
        return reverse("payment-cashier", args=[out_trade_no])

    def checkout(
        self, *, out_trade_no: str, amount_fen: int, description: str, channel: str, client_ip: str, openid: str = ""
    ) -> Checkout:
        order = {
            "description": description[:127],
            "out_trade_no": out_trade_no,
            "amount": {"total": amount_fen, "currency": "CNY"},
            **self._sub_mchid(out_trade_no),
        }
        if channel == CHANNEL_WECHAT and openid:
            payer = {"sub_openid" if settings.WECHATPAY_PARTNER_MODE else "openid": openid}
            code, data = self._call(self.client.pay, pay_type=WeChatPayType.JSAPI, payer=payer, **order)
            self._raise_unless_ok(code, data)
            return Checkout(kind="jsapi", params=self._jsapi_params(data["prepay_id"]))
        if channel == CHANNEL_DESKTOP:
            code, data = self._call(self.client.pay, pay_type=WeChatPayType.NATIVE, **order)
            self._raise_unless_ok(code, data)
            return Checkout(kind="qr", url=data["code_url"])
        scene = {"payer_client_ip": client_ip or "127.0.0.1", "h5_info": {"type": "Wap"}}
        code, data = self._call(self.client.pay, pay_type=WeChatPayType.H5, scene_info=scene, **order)
        self._raise_unless_ok(code, data)
        return Checkout(kind="redirect", url=data["h5_url"])

    def _jsapi_params(self, prepay_id: str) -> dict:
        """What `WeixinJSBridge.invoke('getBrandWCPayRequest', …)` takes, signed here with our key."""
        app_id, timestamp, nonce = settings.WECHATPAY_APPID, str(int(time.time())), secrets.token_hex(16)
        package = f"prepay_id={prepay_id}"
        return {
            "appId": app_id,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": self.client.sign([app_id, timestamp, nonce, package]),
        }

    @staticmethod
    def _raise_unless_ok(code: int, data: dict) -> None:
        if code not in (200, 204):
            raise AppError(E.PROVIDER_REFUSED, f"微信支付拒绝了请求：{data.get('code', code)}")

    def query(self, *, out_trade_no: str) -> OrderQuery:
        code, data = self._call(self.client.query, out_trade_no=out_trade_no, **self._sub_mchid(out_trade_no))
        if code == 404:
            return OrderQuery(status="unknown")
        self._raise_unless_ok(code, data)
        state = _TRADE_STATES.get(str(data.get("trade_state")), "unknown")
        total = (data.get("amount") or {}).get("total", 0)
        return OrderQuery(status=state, amount_fen=int(total or 0), transaction_id=str(data.get("transaction_id", "")))

    def close(self, *, out_trade_no: str) -> bool:
        code, data = self._call(self.client.close, out_trade_no=out_trade_no, **self._sub_mchid(out_trade_no))
        if code in (200, 204) or (code == 404 and data.get("code") == "ORDER_NOT_EXIST"):
            return True  # closed, or never opened at the cashier
        if data.get("code") == "ORDERPAID":
            return False
        self._raise_unless_ok(code, data)
        return True

    def refund(self, *, out_refund_no: str, out_trade_no: str, amount_fen: int, total_fen: int = 0) -> bool:
        code, data = self._call(
            self.client.refund,
            out_refund_no=out_refund_no,
            out_trade_no=out_trade_no,
            amount={"refund": amount_fen, "total": total_fen or amount_fen, "currency": "CNY"},
            **self._sub_mchid(out_trade_no),
        )
        self._raise_unless_ok(code, data)
        return data.get("status") == "SUCCESS"

    def bill(self, *, bill_date) -> Bill:
        """Apply for the day's trade bill, download it (gzip), check its SHA1 and read it."""
        code, data = self._call(self.client.trade_bill, bill_date=bill_date.isoformat(), tar_type="GZIP")
        self._raise_unless_ok(code, data)
        try:
            code, content = self.client.download_bill(data["download_url"])
        except (requests.RequestException, KeyError) as exc:
            raise ProviderUnavailable(f"WeChat Pay bill not downloaded: {type(exc).__name__}") from exc
        if code != 200 or not isinstance(content, bytes):
            raise ProviderUnavailable(f"WeChat Pay bill download answered {code}")
        try:
            text = gzip.decompress(content)
        except (OSError, EOFError) as exc:
            raise ProviderUnavailable("WeChat Pay bill is not gzip") from exc
        if hashlib.sha1(text).hexdigest() != str(data.get("hash_value", "")).lower():  # noqa: S324 (WeChat's choice)
            raise ProviderUnavailable("WeChat Pay bill does not match its hash")
        return parse_trade_bill(text.decode("utf-8-sig"))

    def refund_query(self, *, out_refund_no: str, out_trade_no: str) -> str:
        code, data = self._call(self.client.query_refund, out_refund_no=out_refund_no, **self._sub_mchid(out_trade_no))
        if code == 404:
            return "unknown"
        self._raise_unless_ok(code, data)
        return {"SUCCESS": "succeeded", "PROCESSING": "pending"}.get(str(data.get("status")), "unknown")

    def parse_notification(self, *, body: bytes, headers) -> PaymentNotice:
        """Verify (signature over timestamp, nonce and body, with the platform key), refuse a stale
        one, decrypt the resource with the APIv3 key, and check it is for this merchant."""
        try:
            stamp = int(headers.get("Wechatpay-Timestamp", ""))
        except ValueError:
            stamp = 0
        if abs(time.time() - stamp) > NOTIFY_TOLERANCE_SECONDS:
            raise AppError(E.BAD_SIGNATURE, "Notification timestamp missing or outside the tolerance window.")
        try:
            text = body.decode()
            data = self.client.callback(headers=headers, body=text)
        except (UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise AppError(E.BAD_NOTIFICATION, "Notification body is malformed.") from exc
        except Exception as exc:  # noqa: BLE001 (the SDK raises a bare Exception for an unknown algorithm)
            raise AppError(E.BAD_SIGNATURE, "Notification signature or encryption not accepted.") from exc
        if not data or not isinstance(data.get("resource"), dict):
            raise AppError(E.BAD_SIGNATURE, "Notification signature or encryption not accepted.")
        resource, event = data["resource"], str(data.get("event_type", ""))
        self._check_merchant(resource)
        try:
            if event == "TRANSACTION.SUCCESS" and resource.get("trade_state") == "SUCCESS":
                return PaymentNotice(
                    kind="payment.succeeded",
                    out_trade_no=str(resource["out_trade_no"]),
                    amount_fen=int(resource["amount"]["total"]),
                    transaction_id=str(resource["transaction_id"]),
                )
            if event == "REFUND.SUCCESS" and resource.get("refund_status") == "SUCCESS":
                return PaymentNotice(
                    kind="refund.succeeded",
                    out_trade_no=str(resource["out_trade_no"]),
                    out_refund_no=str(resource["out_refund_no"]),
                    amount_fen=int(resource["amount"]["refund"]),
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise AppError(E.BAD_NOTIFICATION, "Notification resource is malformed.") from exc
        if event.startswith("REFUND."):
            log.warning("wechatpay refund notice %s for %s", event, resource.get("out_refund_no", ""))
        return PaymentNotice(kind="ignored", out_trade_no=str(resource.get("out_trade_no", "")), amount_fen=0)

    @staticmethod
    def _check_merchant(resource: dict) -> None:
        ours = settings.WECHATPAY_MCHID
        theirs = resource.get("sp_mchid") if settings.WECHATPAY_PARTNER_MODE else resource.get("mchid")
        if theirs != ours:
            raise AppError(E.WRONG_MERCHANT, "Notification is for another merchant.")

    def notification_answer(self, *, ok: bool, detail: str, status: int = 200):
        """WeChat Pay reads the status: 204 when taken; a 4xx with {"code":"FAIL"} makes it retry."""
        if ok:
            return HttpResponse(status=204)
        return JsonResponse({"code": "FAIL", "message": detail}, status=status if status >= 400 else 400)


def parse_trade_bill(text: str) -> Bill:
    """WeChat Pay's trade bill (交易账单, bill_type ALL): a header line, one line per payment
    (交易状态 SUCCESS) or refund (REFUND), each field behind a backquote, then the totals. Columns
    are found by name; a line that cannot be read is reported and the rest are still matched."""
    rows = text.splitlines()
    if not rows:
        return Bill(lines=[], bad_lines=[])
    header = [name.strip().lstrip("`") for name in rows[0].split(",")]
    column = {name: i for i, name in enumerate(header)}
    lines, bad = [], []
    for number, row in enumerate(rows[1:], start=2):
        if not row.strip():
            continue
        if row.startswith("总交易单数"):
            break  # the totals follow
        fields = [value.strip().lstrip("`") for value in row.split(",")]
        try:
            if len(fields) != len(header):
                raise ValueError(f"{len(fields)} fields, the header has {len(header)}")
            state = fields[column["交易状态"]]
            if state == "SUCCESS":
                lines.append(
                    BillLine(
                        kind="payment",
                        out_trade_no=fields[column["商户订单号"]],
                        amount_fen=yuan_to_fen(fields[column["订单金额"]]),
                        transaction_id=fields[column["微信订单号"]],
                    )
                )
            elif state == "REFUND" and fields[column["退款状态"]] == "SUCCESS":
                lines.append(
                    BillLine(
                        kind="refund",
                        out_trade_no=fields[column["商户订单号"]],
                        out_refund_no=fields[column["商户退款单号"]],
                        amount_fen=yuan_to_fen(fields[column["退款金额"]]),
                    )
                )
        except (KeyError, IndexError, ValueError) as exc:
            bad.append(f"line {number}: {exc}")
    return Bill(lines=lines, bad_lines=bad)
