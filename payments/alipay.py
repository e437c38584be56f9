"""Alipay (支付宝) behind `PaymentProvider`, through the maintained `python-alipay-sdk`.

Alipay needs nothing up front: the cashier sends the payer to a signed gateway URL (WAP pay on
phones, page pay on desktops); Alipay reports the outcome in a form-encoded notification signed with
its RSA2 key, and answers refunds at once. Here: which pay page, exact fen ↔ yuan conversion, the
checks on what a notification says, and the plain-text answers Alipay reads.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import re
import zipfile
from functools import lru_cache
from urllib.error import HTTPError
from urllib.parse import parse_qsl
from urllib.request import urlopen
from zoneinfo import ZoneInfo

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from giftshop.errors import AppError, ProviderUnavailable

from . import error_codes as E
from .models import Payment
from .providers import (
    CHANNEL_DESKTOP,
    Bill,
    BillLine,
    Checkout,
    OrderQuery,
    PaymentNotice,
    fen_to_yuan,
    pem_setting,
    yuan_to_fen,
)

log = logging.getLogger(__name__)

ALIPAY_TIME = ZoneInfo("Asia/Shanghai")  # Alipay reads `timestamp` and `time_expire` as GMT+8
SUCCESS = "10000"
_TRADE_STATES = {
    "TRADE_SUCCESS": "paid",
    "TRADE_FINISHED": "paid",
    "WAIT_BUYER_PAY": "created",
    "TRADE_CLOSED": "closed",
}
_PAID = {"TRADE_SUCCESS", "TRADE_FINISHED"}
# Answers that mean "Alipay failed inside, ask again later" (the same out_request_no stays safe).
_TEMPORARY_CODES = {"20000"}
_TEMPORARY_SUB_CODES = {"ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR", "isp.unknow-error"}
# Fields Alipay adds to a trade's notification when it reports a refund, not a payment.
_REFUND_FIELDS = ("refund_fee", "out_biz_no", "gmt_refund")


@lru_cache(maxsize=4)
def _client(app_id: str, private_key: str, public_key: str, gateway: str, timeout: float) -> AliPay:
    """One SDK client per process and configuration (loading the RSA keys is the costly part)."""
    try:
        client = AliPay(
            appid=app_id,
            app_private_key_string=private_key,
            alipay_public_key_string=public_key,
            sign_type="RSA2",
            config=AliPayConfig(timeout=timeout),
        )
    except (ValueError, IndexError, TypeError) as exc:  # what pycryptodome raises for a bad key
        raise ImproperlyConfigured(
            "ALIPAY_PRIVATE_KEY / ALIPAY_PUBLIC_KEY must be RSA keys (PEM text or path)."
        ) from exc
    client._gateway = gateway  # the SDK hard-codes the official host; a proxy or a test double lives elsewhere
    return client


def _sdk_error(exc: AliPayException) -> tuple[str, str]:
    """(code, sub_code) of an unsigned error answer: the SDK keeps the raw answer as its message."""
    try:
        answer = json.loads(getattr(exc, "_AliPayException__message", "") or "{}")
        inner = next((v for v in answer.values() if isinstance(v, dict)), {})
    except (TypeError, ValueError, AttributeError):
        inner = {}
    return str(inner.get("code") or getattr(exc, "_AliPayException__code", "") or ""), str(inner.get("sub_code", ""))


def _form(body: bytes) -> dict[str, str]:
    """A form-encoded notification, every field once, or bad_notification."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, errors="strict", max_num_fields=100
        )
    except ValueError as exc:  # undecodable bytes, a field without "=", too many fields
        raise AppError(E.BAD_NOTIFICATION, "Notification body is not a form.") from exc
    data = dict(pairs)
    if len(data) != len(pairs):
        raise AppError(E.BAD_NOTIFICATION, "Notification repeats a field.")
    return data


class AlipayProvider:
    name = "alipay"
    label = _("支付宝")

    @classmethod
    def available(cls) -> bool:
        return bool(settings.ALIPAY_APP_ID and settings.ALIPAY_PRIVATE_KEY and settings.ALIPAY_PUBLIC_KEY)

    @classmethod
    def configuration_errors(cls) -> list[str]:
        try:
            cls().client  # noqa: B018 (loading both keys is the check)
        except ImproperlyConfigured as exc:
            return [str(exc)]
        return []

    # ----- the SDK client and the calls -----

    @property
    def client(self) -> AliPay:
        return _client(
            str(settings.ALIPAY_APP_ID),
            pem_setting(settings.ALIPAY_PRIVATE_KEY),
            pem_setting(settings.ALIPAY_PUBLIC_KEY),
            settings.ALIPAY_GATEWAY,
            float(settings.ALIPAY_TIMEOUT_SECONDS),
        )

    @staticmethod
    def _now() -> str:
        return timezone.now().astimezone(ALIPAY_TIME).strftime("%Y-%m-%d %H:%M:%S")

    def _call(self, method: str, biz_content: dict) -> dict:
        """One gateway API call, its answer verified by the SDK with Alipay's public key. The network,
        a timeout, a 5xx or Alipay's own "system busy" are temporary (ProviderUnavailable)."""
        try:
            answer = self.client.server_api(method, biz_content, timestamp=self._now())
        except HTTPError as exc:
            if exc.code >= 500 or exc.code == 429:
                raise ProviderUnavailable(f"Alipay answered HTTP {exc.code} to {method}") from exc
            raise AppError(E.PROVIDER_REFUSED, f"Alipay answered HTTP {exc.code} to {method}.") from exc
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, cut short
            raise ProviderUnavailable(f"Alipay unreachable for {method}: {type(exc).__name__}") from exc
        except AliPayValidationError as exc:
            log.error("alipay answer to %s failed its signature check", method)
            raise AppError(E.PROVIDER_REFUSED, f"Alipay's answer to {method} did not verify.") from exc
        except AliPayException as exc:  # an unsigned error answer (bad signature of ours, unknown app id)
            code, sub_code = _sdk_error(exc)
            if code in _TEMPORARY_CODES or sub_code in _TEMPORARY_SUB_CODES:
                raise ProviderUnavailable(f"Alipay busy for {method}: {code} {sub_code}") from exc
            log.error("alipay refused %s: code=%s sub_code=%s", method, code, sub_code)
            raise AppError(E.PROVIDER_REFUSED, f"Alipay refused {method}: {code} {sub_code}.") from exc
        except ValueError as exc:  # not JSON: a proxy's error page, an answer cut short
            raise ProviderUnavailable(f"Alipay answered {method} with something that is not its JSON") from exc
        except AttributeError as exc:  # the SDK reading an answer that has neither sign nor result
            raise AppError(E.PROVIDER_REFUSED, f"Alipay's answer to {method} is not in its format.") from exc
        if not isinstance(answer, dict):
            raise AppError(E.PROVIDER_REFUSED, f"Alipay's answer to {method} is not in its format.")
        code, sub_code = str(answer.get("code", "")), str(answer.get("sub_code", ""))
        if code in _TEMPORARY_CODES or sub_code in _TEMPORARY_SUB_CODES:
            raise ProviderUnavailable(f"Alipay busy for {method}: {code} {sub_code}")
        return answer

    @staticmethod
    def _refused(method: str, answer: dict, code: str = E.PROVIDER_REFUSED) -> AppError:
        log.error("alipay refused %s: code=%s sub_code=%s", method, answer.get("code"), answer.get("sub_code"))
        return AppError(
            code, f"支付宝拒绝了请求：{answer.get('sub_code') or answer.get('code')} {answer.get('sub_msg', '')}"
        )

    # ----- PaymentProvider -----

    def prepay(self, *, out_trade_no: str, amount_fen: int, description: str) -> str:
        """Nothing at Alipay yet: its trade exists once the payer opens the pay page."""
        return reverse("payment-cashier", args=[out_trade_no])

    def checkout(
        self, *, out_trade_no: str, amount_fen: int, description: str, channel: str, client_ip: str, openid: str = ""
    ) -> Checkout:
        """The gateway URL with the signed order in its query string: page pay on a desktop (Alipay
        shows its own QR code and login), WAP pay on phones. Back to the gift's card afterwards."""
        site = settings.SITE_URL.rstrip("/")
        cashier = site + reverse("payment-cashier", args=[out_trade_no])
        payment = Payment.objects.filter(out_trade_no=out_trade_no).values("gift_id", "gift__pay_deadline").first()
        biz = {
            "subject": re.sub(r"[&=/\\]", " ", description)[:128] or out_trade_no,
            "out_trade_no": out_trade_no,
            "total_amount": fen_to_yuan(amount_fen),
        }
        if payment:  # Alipay stops taking money when our payment window closes
            biz["time_expire"] = payment["gift__pay_deadline"].astimezone(ALIPAY_TIME).strftime("%Y-%m-%d %H:%M:%S")
        if channel == CHANNEL_DESKTOP:
            method, biz["product_code"] = "alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"
        else:
            method, biz["product_code"], biz["quit_url"] = "alipay.trade.wap.pay", "QUICK_WAP_PAY", cashier
        signed = self.client.client_api(
            method,
            biz,
            notify_url=site + reverse("api-payment-notify-alipay"),
            return_url=site + reverse("gift-card", args=[payment["gift_id"]]) if payment else site + "/",
            timestamp=self._now(),
        )
        return Checkout(kind="redirect", url=f"{settings.ALIPAY_GATEWAY}?{signed}")

    def query(self, *, out_trade_no: str) -> OrderQuery:
        answer = self._call("alipay.trade.query", {"out_trade_no": out_trade_no})
        if answer.get("code") != SUCCESS:
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return OrderQuery(status="unknown")  # the payer never opened the pay page
            raise self._refused("alipay.trade.query", answer)
        status = _TRADE_STATES.get(str(answer.get("trade_status")))
        if status is None or answer.get("out_trade_no", out_trade_no) != out_trade_no:
            raise self._refused("alipay.trade.query", answer)
        if status != "paid":
            return OrderQuery(status=status)
        try:
            amount_fen = yuan_to_fen(str(answer["total_amount"]))
            transaction_id = str(answer["trade_no"])
        except (KeyError, ValueError) as exc:
            raise self._refused("alipay.trade.query", answer) from exc
        return OrderQuery(status="paid", amount_fen=amount_fen, transaction_id=transaction_id)

    def close(self, *, out_trade_no: str) -> bool:
        answer = self._call("alipay.trade.close", {"out_trade_no": out_trade_no})
        if answer.get("code") == SUCCESS or answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return True  # closed now, or never opened (a later payment is refunded as a late one)
        if answer.get("sub_code") == "ACQ.TRADE_STATUS_ERROR":  # paid, or closed already: ask which
            return self.query(out_trade_no=out_trade_no).status in ("closed", "unknown")
        raise self._refused("alipay.trade.close", answer)

    def refund(self, *, out_refund_no: str, out_trade_no: str, amount_fen: int, total_fen: int = 0) -> bool:
        """Alipay refunds synchronously; the same out_request_no again is the same refund."""
        answer = self._call(
            "alipay.trade.refund",
            {"out_trade_no": out_trade_no, "refund_amount": fen_to_yuan(amount_fen), "out_request_no": out_refund_no},
        )
        if answer.get("code") == SUCCESS:
            log.info("alipay refunded %s fund_change=%s", out_refund_no, answer.get("fund_change", ""))
            return True
        if answer.get("sub_code") == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL":
            raise self._refused("alipay.trade.refund", answer, E.REFUND_EXCEEDS_PAYMENT)
        raise self._refused("alipay.trade.refund", answer, E.REFUND_REFUSED)

    def bill(self, *, bill_date) -> Bill:
        """Ask for the day's trade bill (alipay.data.dataservice.bill.downloadurl.query), download the
        zip it names and read its details file (业务明细, GBK)."""
        answer = self._call(
            "alipay.data.dataservice.bill.downloadurl.query", {"bill_type": "trade", "bill_date": bill_date.isoformat()}
        )
        url = answer.get("bill_download_url")
        if answer.get("code") != SUCCESS or not url:
            raise self._refused("alipay.data.dataservice.bill.downloadurl.query", answer, E.PROVIDER_REFUSED)
        try:
            with urlopen(url, timeout=float(settings.ALIPAY_TIMEOUT_SECONDS)) as response:  # noqa: S310 (Alipay's https URL)
                archive = zipfile.ZipFile(io.BytesIO(response.read()))
        except (OSError, http.client.HTTPException, zipfile.BadZipFile) as exc:
            raise ProviderUnavailable(f"Alipay bill not downloaded: {type(exc).__name__}") from exc
        details = [n for n in archive.namelist() if n.endswith(".csv") and "汇总" not in n]
        if not details:
            raise ProviderUnavailable("Alipay bill archive holds no details file")
        return parse_trade_bill(archive.read(details[0]).decode("gb18030"))

    def refund_query(self, *, out_refund_no: str, out_trade_no: str) -> str:
        """Alipay refunds at once: a refund it knows of (`refund_status` REFUND_SUCCESS) is done."""
        answer = self._call(
            "alipay.trade.fastpay.refund.query", {"out_trade_no": out_trade_no, "out_request_no": out_refund_no}
        )
        if answer.get("code") != SUCCESS:
            return "unknown"
        return "succeeded" if answer.get("refund_status") == "REFUND_SUCCESS" else "unknown"

    def parse_notification(self, *, body: bytes, headers) -> PaymentNotice:
        """Verify the RSA2 signature over every field but sign and sign_type (sorted, decoded), check it
        is for our app, and read it: a payment, or something that asks nothing of us."""
        data = _form(body)
        signature = data.pop("sign", "")
        if not signature or data.get("sign_type") != "RSA2":
            raise AppError(E.BAD_SIGNATURE, "Notification is not signed with RSA2.")
        try:
            verified = self.client.verify(dict(data), signature)  # the SDK drops sign_type itself
        except (AliPayException, ValueError, TypeError):  # a signature that is not even base64
            verified = False
        out_trade_no, status = data.get("out_trade_no", "")[:64], data.get("trade_status", "")
        if not verified:
            log.warning("alipay notification signature refused out_trade_no=%s", out_trade_no)
            raise AppError(E.BAD_SIGNATURE, "Notification signature does not verify.")
        if data.get("app_id") != str(settings.ALIPAY_APP_ID):
            log.warning("alipay notification for another app out_trade_no=%s", out_trade_no)
            raise AppError(E.WRONG_MERCHANT, "Notification is for another app.")
        if not out_trade_no or not status:
            raise AppError(E.BAD_NOTIFICATION, "Notification lacks out_trade_no or trade_status.")
        try:
            amount_fen = yuan_to_fen(data["total_amount"]) if "total_amount" in data else 0
        except ValueError as exc:
            raise AppError(E.BAD_NOTIFICATION, "Notification amount is malformed.") from exc
        log.info("alipay notification out_trade_no=%s trade_status=%s", out_trade_no, status)
        if status in _PAID and not any(field in data for field in _REFUND_FIELDS):
            if "total_amount" not in data or not data.get("trade_no"):
                raise AppError(E.BAD_NOTIFICATION, "Payment notification lacks total_amount or trade_no.")
            return PaymentNotice(
                kind="payment.succeeded",
                out_trade_no=out_trade_no,
                amount_fen=amount_fen,
                transaction_id=data["trade_no"][:64],
            )
        # WAIT_BUYER_PAY, TRADE_CLOSED, or a refund's echo (our refunds are settled from their answer)
        return PaymentNotice(kind="ignored", out_trade_no=out_trade_no, amount_fen=amount_fen)

    def notification_answer(self, *, ok: bool, detail: str, status: int = 200):
        """Alipay reads only the body: "success" stops its retries, anything else repeats the notice."""
        return HttpResponse("success" if ok else "fail", content_type="text/plain", status=200)


def parse_trade_bill(text: str) -> Bill:
    """The details file of Alipay's trade bill: comment lines (#…), a header, one line per payment
    (业务类型 交易) or refund (退款, its request number in 退款批次号/请求号), comment lines again,
    then totals. Columns are found by name; a line that cannot be read is reported, the rest matched."""
    rows = [row for row in text.splitlines() if row.strip()]
    body = [row for row in rows if not row.startswith("#")]
    if not body:
        return Bill(lines=[], bad_lines=[])
    header = [name.strip() for name in body[0].split(",")]
    column = {name: i for i, name in enumerate(header)}
    lines, bad = [], []
    for number, row in enumerate(body[1:], start=2):
        if row.startswith(("合计", "交易合计", "退款合计")):
            break
        fields = [value.strip().strip("\t") for value in row.split(",")]
        try:
            if len(fields) != len(header):
                raise ValueError(f"{len(fields)} fields, the header has {len(header)}")
            kind, amount = fields[column["业务类型"]], fields[column["订单金额（元）"]]
            if kind == "交易":
                lines.append(
                    BillLine(
                        kind="payment",
                        out_trade_no=fields[column["商户订单号"]],
                        amount_fen=yuan_to_fen(amount),
                        transaction_id=fields[column["支付宝交易号"]],
                    )
                )
            elif kind == "退款":
                lines.append(
                    BillLine(
                        kind="refund",
                        out_trade_no=fields[column["商户订单号"]],
                        out_refund_no=fields[column["退款批次号/请求号"]],
                        amount_fen=yuan_to_fen(amount.lstrip("-")),
                    )
                )
        except (KeyError, IndexError, ValueError) as exc:
            bad.append(f"line {number}: {exc}")
    return Bill(lines=lines, bad_lines=bad)
