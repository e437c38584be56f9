"""A local Alipay open-platform gateway for the tests: a real HTTP server on 127.0.0.1 that speaks
Alipay's protocol with RSA2 keys made fresh for each test.

It checks every request's `sign` (RSA-SHA256 over the sorted, decoded parameters but `sign`) with the
app's public key, as Alipay does, and refuses with an unsigned 40002 answer a request that is forged
(isv.invalid-signature), unsigned (isv.missing-signature), for another app or too old; it keeps its own books of trades and refunds, answers query, close and
refund as `{"<method>_response": {...}, "sign": "..."}` signed with its own key over the exact
bytes of the inner object (what the SDK extracts and verifies), and builds the asynchronous
notifications Alipay POSTs: form-encoded, signed over every field but `sign` and `sign_type`.
Signing and verifying here use `cryptography`, not the SDK's pycryptodome, so the two check each other.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import secrets
import time
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.doubles import LocalServer

GMT8 = ZoneInfo("Asia/Shanghai")
REQUEST_LIFETIME = dt.timedelta(minutes=30)  # a request whose timestamp is further off is refused


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key, *, pkcs1: bool = False) -> str:
    fmt = serialization.PrivateFormat.TraditionalOpenSSL if pkcs1 else serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def public_pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def rsa2_sign(key, message: str) -> str:
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa2_verify(public_key, message: str, signature: str) -> bool:
    try:
        public_key.verify(
            base64.b64decode(signature, validate=True), message.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def content_to_sign(params: dict, *, drop: tuple[str, ...]) -> str:
    """Alipay's string to sign: the parameters but `drop`, sorted by name, as decoded `k=v` joined by `&`."""
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in drop)


def to_fen(amount: str) -> int:
    whole, _, cents = amount.partition(".")
    if not whole.isdigit() or (cents and not cents.isdigit()) or len(cents) > 2:
        raise ValueError(amount)
    return int(whole) * 100 + int(cents.ljust(2, "0") or "0")


def to_yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def gmt8(moment: dt.datetime | None = None) -> str:
    return (moment or dt.datetime.now(dt.UTC)).astimezone(GMT8).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Trade:
    out_trade_no: str
    total_fen: int
    status: str = "WAIT_BUYER_PAY"
    trade_no: str = field(default_factory=lambda: dt.datetime.now(GMT8).strftime("%Y%m%d") + secrets.token_hex(10))
    subject: str = ""
    product_code: str = ""
    notify_url: str = ""
    return_url: str = ""
    time_expire: str = ""
    paid_at: str = ""
    refunds: dict[str, int] = field(default_factory=dict)  # out_request_no → fen

    @property
    def refunded_fen(self) -> int:
        return sum(self.refunds.values())


class AlipayDouble(LocalServer):
    poll_interval = 0.02
    block_on_close = False

    def __init__(self):
        self.app_id = "2021000" + "".join(secrets.choice("0123456789") for _ in range(9))
        self.seller_id = "2088" + "".join(secrets.choice("0123456789") for _ in range(12))
        self.app_key = new_key()  # "our app": its private key is ALIPAY_PRIVATE_KEY
        self.alipay_key = new_key()  # "Alipay": its public key is ALIPAY_PUBLIC_KEY
        self.trades: dict[str, Trade] = {}
        self.requests: list[dict] = []  # every request that verified: {"method", "biz", "params"}
        self.refused: list[dict] = []  # every request refused for its signature, app id or timestamp
        self.http_status = 200  # set to 502/503 to play a gateway in trouble
        self.bill_extra_lines: list[str] = []  # lines a test slips into the next bill
        self.delay = 0.0  # seconds before answering (a slow gateway)
        self._listen()

    # ----- lifecycle and settings -----

    @property
    def url(self) -> str:
        return super().url + "/gateway.do"

    def settings(self) -> dict:
        return {
            "ALIPAY_APP_ID": self.app_id,
            "ALIPAY_PRIVATE_KEY": private_pem(self.app_key, pkcs1=True),
            "ALIPAY_PUBLIC_KEY": public_pem(self.alipay_key),
            "ALIPAY_GATEWAY": self.url,
        }

    # ----- what happens at Alipay outside our API calls -----

    def pay(self, out_trade_no: str, total_yuan: str) -> Trade:
        """The payer paid `total_yuan` on Alipay's pay page (opened by our redirect or not)."""
        trade = self.trades.setdefault(out_trade_no, Trade(out_trade_no=out_trade_no, total_fen=to_fen(total_yuan)))
        if trade.status == "TRADE_CLOSED":
            raise ValueError(f"trade {out_trade_no} is closed and can no longer be paid")
        trade.total_fen, trade.status, trade.paid_at = to_fen(total_yuan), "TRADE_SUCCESS", gmt8()
        return trade

    def notification(
        self,
        out_trade_no: str,
        *,
        trade_status: str | None = None,
        override: dict | None = None,
        remove: tuple[str, ...] = (),
        key=None,
        after_signing: dict | None = None,
    ) -> bytes:
        """The body Alipay POSTs to our notify URL about a trade, form-encoded and signed.

        `override` and `remove` change fields before signing (what Alipay might say); `key` signs with
        another key (a forger); `after_signing` changes fields once signed (tampering in transit)."""
        trade = self.trades[out_trade_no]
        now = gmt8()
        fields = {
            "gmt_create": trade.paid_at or now,
            "charset": "utf-8",
            "seller_email": "shop@example.com",
            "subject": trade.subject or "礼物：测试商品",
            "buyer_id": "2088102177846875",
            "invoice_amount": to_yuan(trade.total_fen),
            "notify_id": secrets.token_hex(16),
            "fund_bill_list": json.dumps(
                [{"amount": to_yuan(trade.total_fen), "fundChannel": "ALIPAYACCOUNT"}], separators=(",", ":")
            ),
            "notify_type": "trade_status_sync",
            "trade_status": trade_status or trade.status,
            "receipt_amount": to_yuan(trade.total_fen),
            "buyer_pay_amount": to_yuan(trade.total_fen),
            "app_id": self.app_id,
            "sign_type": "RSA2",
            "seller_id": self.seller_id,
            "gmt_payment": trade.paid_at or now,
            "notify_time": now,
            "version": "1.0",
            "out_trade_no": out_trade_no,
            "total_amount": to_yuan(trade.total_fen),
            "trade_no": trade.trade_no,
            "auth_app_id": self.app_id,
            "buyer_logon_id": "158****1562",
            "point_amount": "0.00",
        }
        fields.update(override or {})
        for name in remove:
            fields.pop(name, None)
        fields["sign"] = rsa2_sign(key or self.alipay_key, content_to_sign(fields, drop=("sign", "sign_type")))
        fields.update(after_signing or {})
        return urlencode(fields).encode()

    def refund_notification(self, out_trade_no: str, out_request_no: str) -> bytes:
        """What Alipay sends after a refund: the trade's notice with the refund's fields (TRADE_SUCCESS
        after a partial one, TRADE_CLOSED once all is refunded)."""
        trade = self.trades[out_trade_no]
        return self.notification(
            out_trade_no,
            trade_status=trade.status,
            override={
                "refund_fee": to_yuan(trade.refunded_fen),
                "out_biz_no": out_request_no,
                "gmt_refund": gmt8() + ".000",
            },
        )

    # ----- the HTTP side -----

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                if urlsplit(self.path).path == "/downloadBillFile.resource":
                    return self._send(200, "application/zip", double.bill_zip())
                self._serve(urlsplit(self.path).query)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                query = urlsplit(self.path).query
                self._serve("&".join(part for part in (query, body) if part))

            def _serve(self, query: str):
                if double.delay:
                    time.sleep(double.delay)
                if double.http_status != 200:
                    return self._send(double.http_status, "text/html", b"<html><body>502 Bad Gateway</body></html>")
                params = dict(parse_qsl(query, keep_blank_values=True))
                content_type, text = double._answer(params)
                self._send(200, content_type, text.encode())

            def _send(self, status: int, content_type: str, payload: bytes):
                self.send_response(status)
                self.send_header("Content-Type", f"{content_type}; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    def _answer(self, params: dict) -> tuple[str, str]:
        method = params.get("method", "")
        refusal = self._refusal(params)
        if refusal:
            self.refused.append({"method": method, "sub_code": refusal[1]})
            return "application/json", self._unsigned(
                method, {"code": "40002", "msg": "Invalid Arguments", **refusal[0]}
            )
        try:
            biz = json.loads(params.get("biz_content") or "{}")
        except ValueError:
            return "application/json", self._unsigned(method, _invalid("biz_content 不是 JSON"))
        self.requests.append({"method": method, "biz": biz, "params": params})
        if method in ("alipay.trade.wap.pay", "alipay.trade.page.pay"):
            return "text/html", self._pay_page(method, biz, params)
        handler = {
            "alipay.trade.query": self._query,
            "alipay.trade.close": self._close,
            "alipay.trade.refund": self._refund,
            "alipay.trade.fastpay.refund.query": self._refund_query,
            "alipay.data.dataservice.bill.downloadurl.query": self._bill_url,
        }.get(method)
        if handler is None:
            return "application/json", self._unsigned(method, _invalid("不支持的接口", "isv.invalid-method"))
        return "application/json", self._signed(method, handler(biz))

    def _refusal(self, params: dict) -> tuple[dict, str] | None:
        """Why Alipay's gateway would refuse these parameters before reading them, if it would."""
        if params.get("app_id") != self.app_id:
            return {"sub_code": "isv.invalid-app-id", "sub_msg": "无效的AppID参数"}, "isv.invalid-app-id"
        if params.get("sign_type") != "RSA2" or not params.get("sign"):
            return {"sub_code": "isv.missing-signature", "sub_msg": "缺少签名参数"}, "isv.missing-signature"
        # requests: every parameter but `sign` (sign_type included), empty ones left out, sorted
        signed = {k: v for k, v in params.items() if v != ""}
        if not rsa2_verify(self.app_key.public_key(), content_to_sign(signed, drop=("sign",)), params["sign"]):
            return {"sub_code": "isv.invalid-signature", "sub_msg": "验签出错"}, "isv.invalid-signature"
        try:
            stamp = dt.datetime.strptime(params.get("timestamp", ""), "%Y-%m-%d %H:%M:%S").replace(tzinfo=GMT8)
        except ValueError:
            return {"sub_code": "isv.invalid-timestamp", "sub_msg": "非法的时间戳参数"}, "isv.invalid-timestamp"
        if abs(dt.datetime.now(dt.UTC) - stamp) > REQUEST_LIFETIME:
            return {"sub_code": "isv.invalid-timestamp", "sub_msg": "时间戳与网关时间相差太大"}, "isv.invalid-timestamp"
        return None

    def _unsigned(self, method: str, inner: dict) -> str:
        """A gateway-level refusal: not signed (the SDK raises on an answer without `sign`)."""
        key = method.replace(".", "_") + "_response" if method else "error_response"
        return json.dumps({key: inner}, ensure_ascii=False, separators=(",", ":"))

    def _signed(self, method: str, inner: dict) -> str:
        """`{"<method>_response":{...},"sign":"..."}`, signed over the inner object's exact text."""
        text = json.dumps(inner, ensure_ascii=False, separators=(",", ":"))
        response_key = method.replace(".", "_") + "_response"
        return f'{{"{response_key}":{text},"sign":"{rsa2_sign(self.alipay_key, text)}"}}'

    def _pay_page(self, method: str, biz: dict, params: dict) -> str:
        """The payer opens our redirect: the trade exists from now on, waiting for the payer."""
        expected = "QUICK_WAP_PAY" if method == "alipay.trade.wap.pay" else "FAST_INSTANT_TRADE_PAY"
        if biz.get("product_code") != expected:
            return "<html><body>ACQ.INVALID_PARAMETER product_code</body></html>"
        try:
            total_fen = to_fen(str(biz["total_amount"]))
        except (KeyError, ValueError):
            return "<html><body>ACQ.INVALID_PARAMETER total_amount</body></html>"
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            trade = self.trades[biz["out_trade_no"]] = Trade(out_trade_no=biz["out_trade_no"], total_fen=total_fen)
        elif trade.total_fen != total_fen:
            return "<html><body>ACQ.CONTEXT_INCONSISTENT 交易信息被篡改</body></html>"
        if trade.status == "TRADE_CLOSED":
            return "<html><body>ACQ.TRADE_HAS_CLOSE 交易已经关闭</body></html>"
        trade.subject, trade.product_code = biz.get("subject", ""), expected
        trade.notify_url, trade.return_url = params.get("notify_url", ""), params.get("return_url", "")
        trade.time_expire = biz.get("time_expire", "")
        return f"<html><body>支付宝收银台 {trade.out_trade_no} ¥{to_yuan(total_fen)}</body></html>"

    def _query(self, biz: dict) -> dict:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return _business_error("ACQ.TRADE_NOT_EXIST", "交易不存在")
        answer = {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": trade.out_trade_no,
            "trade_no": trade.trade_no,
            "trade_status": trade.status,
            "total_amount": to_yuan(trade.total_fen),
            "buyer_logon_id": "158****1562",
        }
        if trade.paid_at:
            answer["send_pay_date"] = trade.paid_at
        return answer

    def _close(self, biz: dict) -> dict:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return _business_error("ACQ.TRADE_NOT_EXIST", "交易不存在")
        if trade.status != "WAIT_BUYER_PAY":
            return _business_error("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        trade.status = "TRADE_CLOSED"
        return {"code": "10000", "msg": "Success", "out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no}

    BILL_HEADER = (
        "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,"
        "商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,"
        "商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
    )

    def bill_line(self, *, trade_no: str, out_trade_no: str, kind: str, amount: str, request_no: str = "") -> str:
        now = gmt8()
        fields = [
            trade_no,
            out_trade_no,
            kind,
            "礼物",
            now,
            now,
            "",
            "",
            "",
            "",
            "158****1562",
            amount,
            amount,
            "0.00",
            "0.00",
            "0.00",
            "0.00",
            "0.00",
            "",
            "0.00",
            "0.00",
            request_no,
            "0.00",
            "0.00",
            "",
        ]
        return ",".join(f"{f}\t" if f and f[0].isdigit() and len(f) > 15 else f for f in fields)

    def bill_zip(self) -> bytes:
        rows = [
            "#支付宝业务明细查询",
            f"#账号：[{self.seller_id}0156]",
            "#起始日期：[今日]",
            "#-----------------------------------------业务明细列表----------------------------------------",
            self.BILL_HEADER,
        ]
        for trade in self.trades.values():
            if trade.paid_at:
                rows.append(
                    self.bill_line(
                        trade_no=trade.trade_no,
                        out_trade_no=trade.out_trade_no,
                        kind="交易",
                        amount=to_yuan(trade.total_fen),
                    )
                )
            for request_no, fen in trade.refunds.items():
                rows.append(
                    self.bill_line(
                        trade_no=trade.trade_no,
                        out_trade_no=trade.out_trade_no,
                        kind="退款",
                        amount="-" + to_yuan(fen),
                        request_no=request_no,
                    )
                )
        rows += self.bill_extra_lines
        rows += [
            "#-----------------------------------------业务明细列表结束------------------------------------",
            "#交易合计：0笔，退款合计：0笔",
        ]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(f"{self.seller_id}_today_业务明细.csv", "\n".join(rows).encode("gb18030"))
            archive.writestr(f"{self.seller_id}_today_业务明细(汇总).csv", "#汇总\n".encode("gb18030"))
        return buffer.getvalue()

    def _bill_url(self, biz: dict) -> dict:
        base = self.url.rsplit("/", 1)[0]
        return {
            "code": "10000",
            "msg": "Success",
            "bill_download_url": f"{base}/downloadBillFile.resource?fileType=csv.zip&bizDates={biz.get('bill_date', '')}",
        }

    def _refund_query(self, biz: dict) -> dict:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        request_no = str(biz.get("out_request_no", ""))
        if trade is None or request_no not in trade.refunds:
            return {"code": "10000", "msg": "Success"}  # Alipay answers success with no refund fields
        return {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": trade.out_trade_no,
            "out_request_no": request_no,
            "refund_amount": to_yuan(trade.refunds[request_no]),
            "total_amount": to_yuan(trade.total_fen),
            "refund_status": "REFUND_SUCCESS",
        }

    def _refund(self, biz: dict) -> dict:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        request_no = str(biz.get("out_request_no") or biz.get("out_trade_no", ""))
        if trade is None:
            return _business_error("ACQ.TRADE_NOT_EXIST", "交易不存在")
        try:
            amount = to_fen(str(biz["refund_amount"]))
        except (KeyError, ValueError):
            return _invalid("refund_amount 无效")
        fund_change = "N"
        if request_no not in trade.refunds:  # the same out_request_no is the same refund, never a second
            if trade.status != "TRADE_SUCCESS":
                return _business_error("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
            if amount <= 0 or trade.refunded_fen + amount > trade.total_fen:
                return _business_error("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
            trade.refunds[request_no] = amount
            fund_change = "Y"
            if trade.refunded_fen == trade.total_fen:
                trade.status = "TRADE_CLOSED"
        return {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_logon_id": "158****1562",
            "fund_change": fund_change,
            "refund_fee": to_yuan(trade.refunded_fen),
            "gmt_refund_pay": gmt8(),
        }


def _business_error(sub_code: str, sub_msg: str) -> dict:
    return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}


def _invalid(sub_msg: str, sub_code: str = "isv.invalid-parameter") -> dict:
    return {"code": "40002", "msg": "Invalid Arguments", "sub_code": sub_code, "sub_msg": sub_msg}
