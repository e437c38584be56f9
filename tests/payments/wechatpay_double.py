"""A local WeChat Pay API v3 for the tests: a real HTTP server on 127.0.0.1 that speaks the wire
protocol with keys made fresh for each test.

It checks every request's `Authorization: WECHATPAY2-SHA256-RSA2048 …` signature with the
merchant's public key, keeps its own books of orders and refunds, signs every answer with its
platform key (platform public key mode, or an X.509 platform certificate it serves, encrypted,
from /v3/certificates), and builds notifications the way WeChat Pay sends them: the resource
encrypted with AEAD_AES_256_GCM under the APIv3 key, the body signed with the platform key.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import re
import secrets
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from tests.doubles import LocalServer

AUTH = re.compile(r"WECHATPAY2-SHA256-RSA2048 (.*)")


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def rsa_sign(key, message: str) -> str:
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(public_key, message: str, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def aead_encrypt(apiv3_key: str, plaintext: str, associated_data: str) -> dict:
    nonce = secrets.token_hex(6)  # 12 characters, as WeChat Pay sends
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plaintext.encode(), associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "nonce": nonce,
        "associated_data": associated_data,
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }


def self_signed_certificate(key) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA (test double)")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


class WeChatPayDouble(LocalServer):
    def __init__(self, *, certificate_mode: bool = False, partner_mode: bool = False):
        self.mchid = "1900000109"
        self.appid = "wxd678efh567hg6787"
        self.apiv3_key = secrets.token_hex(16)  # 32 characters
        self.merchant_key = new_key()
        self.merchant_serial = secrets.token_hex(20).upper()
        self.platform_key = new_key()
        self.certificate_mode = certificate_mode
        self.partner_mode = partner_mode
        self.public_key_id = "PUB_KEY_ID_" + secrets.token_hex(12).upper()
        self.certificate = self_signed_certificate(self.platform_key)
        self.orders: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.refused: list[str] = []
        self.bill_extra_lines: list[str] = []  # lines a test slips into the next bill
        self.app_secret = secrets.token_hex(16)  # the official account's AppSecret (OAuth)
        self.oauth_codes: dict[str, str] = {}  # code WeChat handed the browser -> the payer's openid
        self._bills: dict[str, bytes] = {}
        self._listen()

    # ----- lifecycle and settings -----

    def settings(self) -> dict:
        values = {
            "WECHATPAY_MCHID": self.mchid,
            "WECHATPAY_APPID": self.appid,
            "WECHATPAY_APIV3_KEY": self.apiv3_key,
            "WECHATPAY_PRIVATE_KEY": private_pem(self.merchant_key),
            "WECHATPAY_CERT_SERIAL_NO": self.merchant_serial,
            "WECHATPAY_PUBLIC_KEY": "",
            "WECHATPAY_PUBLIC_KEY_ID": "",
            "WECHATPAY_PARTNER_MODE": self.partner_mode,
            "WECHATPAY_API_BASE": self.url,
        }
        if not self.certificate_mode:
            values["WECHATPAY_PUBLIC_KEY"] = public_pem(self.platform_key)
            values["WECHATPAY_PUBLIC_KEY_ID"] = self.public_key_id
        return values

    @property
    def serial(self) -> str:
        """What `Wechatpay-Serial` names: the public key id, or the platform certificate's serial."""
        if self.certificate_mode:
            return format(self.certificate.serial_number, "X")
        return self.public_key_id

    def rotate_certificate(self) -> None:
        """WeChat Pay replaces its platform certificate (and key); merchants fetch the new one."""
        self.platform_key = new_key()
        self.certificate = self_signed_certificate(self.platform_key)

    # ----- what happens at WeChat Pay outside our requests -----

    def pay(self, out_trade_no: str) -> dict:
        order = self.orders[out_trade_no]
        order.update(trade_state="SUCCESS", transaction_id="4200" + secrets.token_hex(12))
        return order

    BILL_HEADER = (
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
        "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
        "手续费,费率,订单金额,申请退款金额,费率备注"
    )

    def bill_line(
        self, *, out_trade_no: str, state: str, amount_fen: int, out_refund_no: str = "", refund_fen: int = 0
    ) -> str:
        yuan = lambda fen: f"{fen // 100}.{fen % 100:02d}"  # noqa: E731
        fields = [
            "2026-12-03 10:00:00",
            self.appid,
            self.mchid,
            "0",
            "",
            "4200" + secrets.token_hex(8),
            out_trade_no,
            "oUpF8uMuAJO",
            "NATIVE",
            state,
            "OTHERS",
            "CNY",
            yuan(amount_fen),
            "0.00",
            "5030" + secrets.token_hex(6) if out_refund_no else "0",
            out_refund_no or "0",
            yuan(refund_fen),
            "0.00",
            "ORIGINAL" if out_refund_no else "",
            "SUCCESS" if out_refund_no else "",
            "礼物",
            "",
            "0.00000",
            "0.60%",
            yuan(amount_fen),
            yuan(refund_fen),
            "",
        ]
        return ",".join("`" + f for f in fields)

    def bill_text(self) -> str:
        rows = [self.BILL_HEADER]
        for no, order in self.orders.items():
            if order.get("transaction_id"):
                rows.append(self.bill_line(out_trade_no=no, state="SUCCESS", amount_fen=order["amount"]))
        for no, refund in self.refunds.items():
            if refund["status"] == "SUCCESS":
                rows.append(
                    self.bill_line(
                        out_trade_no=refund["out_trade_no"],
                        state="REFUND",
                        amount_fen=refund["total"],
                        out_refund_no=no,
                        refund_fen=refund["amount"],
                    )
                )
        rows += self.bill_extra_lines
        rows += [
            "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
            "`0,`0.00,`0.00,`0.00,`0.00000,`0.00,`0.00",
        ]
        return "\n".join(rows) + "\n"

    def signed_headers(self, body: str, *, key=None, serial: str | None = None, timestamp: int | None = None) -> dict:
        stamp, nonce = str(timestamp if timestamp is not None else int(time.time())), secrets.token_hex(16)
        return {
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": rsa_sign(key or self.platform_key, f"{stamp}\n{nonce}\n{body}\n"),
            "Wechatpay-Serial": serial or self.serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    def notification(self, event_type: str, resource: dict, *, apiv3_key: str | None = None, **sign) -> tuple:
        """(body, headers) of a notification as WeChat Pay POSTs it to our notify URL."""
        original = "refund" if event_type.startswith("REFUND.") else "transaction"
        encrypted = aead_encrypt(apiv3_key or self.apiv3_key, json.dumps(resource), original)
        body = json.dumps(
            {
                "id": secrets.token_hex(16),
                "create_time": dt.datetime.now(dt.UTC).isoformat(),
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": "支付成功" if original == "transaction" else "退款成功",
                "resource": {"original_type": original, **encrypted},
            },
            ensure_ascii=False,
        )
        return body, self.signed_headers(body, **sign)

    def payment_notification(self, out_trade_no: str, **options) -> tuple:
        order = self.orders[out_trade_no]
        resource = {
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": out_trade_no,
            "transaction_id": order["transaction_id"],
            "trade_type": order["trade_type"],
            "trade_state": order["trade_state"],
            "amount": {"total": order["amount"], "payer_total": order["amount"], "currency": "CNY"},
        }
        if self.partner_mode:
            resource = {**resource, "sp_mchid": self.mchid, "sub_mchid": order["sub_mchid"]}
            del resource["mchid"]
        resource.update(options.pop("override", {}))
        return self.notification("TRANSACTION.SUCCESS", resource, **options)

    def refund_notification(self, out_refund_no: str, **options) -> tuple:
        refund = self.refunds[out_refund_no]
        refund["status"] = "SUCCESS"
        resource = {
            "mchid": self.mchid,
            "out_trade_no": refund["out_trade_no"],
            "out_refund_no": out_refund_no,
            "refund_id": refund["refund_id"],
            "refund_status": "SUCCESS",
            "amount": {"refund": refund["amount"], "total": refund["total"], "currency": "CNY"},
        }
        if self.partner_mode:
            resource = {**resource, "sp_mchid": self.mchid}
            del resource["mchid"]
        return self.notification("REFUND.SUCCESS", resource, **options)

    # ----- the HTTP side -----

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

            def _serve(self, method: str):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                target = urlsplit(self.path)
                if target.path == "/sns/oauth2/access_token":  # api.weixin.qq.com: OAuth, no signature
                    return self._answer(200, double._oauth(parse_qs(target.query)), sign=False)
                if not double._authorised(method, self.path, body, self.headers.get("Authorization", "")):
                    double.refused.append(self.path)
                    return self._answer(401, {"code": "SIGN_ERROR", "message": "签名错误"}, sign=False)
                data = json.loads(body) if body else {}
                double.requests.append({"method": method, "path": self.path, "body": data})
                download = urlsplit(self.path)
                if download.path == "/v3/billdownload/file":
                    payload = double._bills.get(parse_qs(download.query).get("token", [""])[0])
                    if payload is None:
                        return self._answer(404, {"code": "NO_STATEMENT_EXIST", "message": "账单不存在"}, sign=False)
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                status, answer = double._route(method, self.path, data)
                self._answer(status, answer, sign=status < 300)

            def _answer(self, status: int, data: dict | None, *, sign: bool):
                text = json.dumps(data, ensure_ascii=False) if data is not None else ""
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                if sign:
                    for name, value in double.signed_headers(text).items():
                        self.send_header(name, value)
                payload = text.encode()
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    def oauth_code(self, openid: str) -> str:
        """WeChat's authorize page sends the browser back with this code."""
        code = secrets.token_hex(16)
        self.oauth_codes[code] = openid
        return code

    def _oauth(self, query: dict) -> dict:
        get = lambda name: (query.get(name) or [""])[0]  # noqa: E731
        if get("appid") != self.appid or get("secret") != self.app_secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        openid = self.oauth_codes.pop(get("code"), None)  # a code works once
        if openid is None or get("grant_type") != "authorization_code":
            return {"errcode": 40029, "errmsg": "invalid code"}
        return {"access_token": secrets.token_hex(20), "expires_in": 7200, "openid": openid, "scope": "snsapi_base"}

    def _authorised(self, method: str, path: str, body: str, header: str) -> bool:
        match = AUTH.fullmatch(header.strip())
        if not match:
            return False
        fields = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if fields.get("mchid") != self.mchid or fields.get("serial_no") != self.merchant_serial:
            return False
        if abs(time.time() - int(fields.get("timestamp", "0"))) > 300:
            return False
        message = f"{method}\n{path}\n{fields['timestamp']}\n{fields['nonce_str']}\n{body}\n"
        return rsa_verify(self.merchant_key.public_key(), message, fields.get("signature", ""))

    def _route(self, method: str, path: str, data: dict) -> tuple[int, dict | None]:
        url = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        prefix = "/v3/pay/partner/transactions" if self.partner_mode else "/v3/pay/transactions"
        if method == "GET" and url.path == "/v3/certificates":
            pem = self.certificate.public_bytes(serialization.Encoding.PEM).decode()
            return 200, {
                "data": [
                    {
                        "serial_no": self.serial,
                        "effective_time": "2026-01-01T00:00:00+08:00",
                        "expire_time": "2030-01-01T00:00:00+08:00",
                        "encrypt_certificate": aead_encrypt(self.apiv3_key, pem, "certificate"),
                    }
                ]
            }
        trade = re.fullmatch(prefix + r"/(native|h5|jsapi)", url.path)
        if method == "POST" and trade:
            return self._prepay(trade.group(1), data)
        found = re.fullmatch(prefix + r"/out-trade-no/([^/]+)(/close)?", url.path)
        if found:
            order = self.orders.get(found.group(1))
            if order is None:
                return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
            if found.group(2):
                if order["trade_state"] == "SUCCESS":
                    return 400, {"code": "ORDERPAID", "message": "订单已支付"}
                order["trade_state"] = "CLOSED"
                return 204, None
            answer = {
                "out_trade_no": found.group(1),
                "trade_state": order["trade_state"],
                "amount": {"total": order["amount"], "currency": "CNY"},
                **({"transaction_id": order["transaction_id"]} if order.get("transaction_id") else {}),
            }
            mch = query.get("sp_mchid") if self.partner_mode else query.get("mchid")
            if mch != self.mchid:
                return 400, {"code": "MCH_NOT_EXISTS", "message": "商户号不存在"}
            return 200, answer
        if method == "POST" and url.path == "/v3/refund/domestic/refunds":
            return self._refund(data)
        if method == "GET" and url.path == "/v3/bill/tradebill":
            text = self.bill_text().encode()
            token = secrets.token_urlsafe(12)
            self._bills[token] = gzip.compress(text)
            return 200, {
                "hash_type": "SHA1",
                "hash_value": hashlib.sha1(text).hexdigest(),  # noqa: S324 (WeChat Pay's choice)
                "download_url": f"{self.url}/v3/billdownload/file?token={token}",
            }
        refund = re.fullmatch(r"/v3/refund/domestic/refunds/([^/]+)", url.path)
        if method == "GET" and refund:
            if refund.group(1) not in self.refunds:
                return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}
            return 200, self._refund_answer(refund.group(1))
        return 404, {"code": "NOT_FOUND", "message": "no such API in the test double"}

    def _prepay(self, kind: str, data: dict) -> tuple[int, dict]:
        mch = data.get("sp_mchid") if self.partner_mode else data.get("mchid")
        if mch != self.mchid or (self.partner_mode and not data.get("sub_mchid")):
            return 400, {"code": "PARAM_ERROR", "message": "商户号不对"}
        if not str(data.get("notify_url", "")).startswith("http"):
            return 400, {"code": "PARAM_ERROR", "message": "notify_url 无效"}
        if kind == "jsapi" and not (data.get("payer") or {}):
            return 400, {"code": "PARAM_ERROR", "message": "缺少 payer"}
        if kind == "h5" and not (data.get("scene_info") or {}).get("payer_client_ip"):
            return 400, {"code": "PARAM_ERROR", "message": "缺少 scene_info"}
        no = data["out_trade_no"]
        order = self.orders.setdefault(
            no,
            {
                "amount": data["amount"]["total"],
                "trade_state": "NOTPAY",
                "trade_type": kind.upper(),
                "sub_mchid": data.get("sub_mchid", ""),
                "notify_url": data["notify_url"],
            },
        )
        if order["trade_state"] == "SUCCESS":
            return 400, {"code": "ORDERPAID", "message": "订单已支付"}
        if order["amount"] != data["amount"]["total"]:
            return 400, {"code": "INVALID_REQUEST", "message": "订单金额与首次请求不一致"}
        prepay_id = "wx" + secrets.token_hex(14)
        if kind == "native":
            return 200, {"code_url": f"weixin://wxpay/bizpayurl?pr={secrets.token_urlsafe(6)}"}
        if kind == "h5":
            return 200, {"h5_url": f"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={prepay_id}"}
        return 200, {"prepay_id": prepay_id}

    def _refund(self, data: dict) -> tuple[int, dict]:
        no, out_trade_no = data.get("out_refund_no"), data.get("out_trade_no")
        order = self.orders.get(out_trade_no)
        if order is None or order["trade_state"] != "SUCCESS":
            return 400, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在或未支付"}
        amount = data["amount"]
        if amount["total"] != order["amount"]:
            return 400, {"code": "PARAM_ERROR", "message": "订单金额不一致"}
        if no in self.refunds:  # the same out_refund_no: the same refund, never a second one
            return 200, self._refund_answer(no)
        refunded = sum(r["amount"] for r in self.refunds.values() if r["out_trade_no"] == out_trade_no)
        if refunded + amount["refund"] > order["amount"]:
            return 403, {"code": "NOT_ENOUGH", "message": "退款金额超过可退金额"}
        self.refunds[no] = {
            "out_trade_no": out_trade_no,
            "amount": amount["refund"],
            "total": amount["total"],
            "refund_id": "5030" + secrets.token_hex(12),
            "status": "PROCESSING",
        }
        return 200, self._refund_answer(no)

    def _refund_answer(self, no: str) -> dict:
        refund = self.refunds[no]
        return {
            "refund_id": refund["refund_id"],
            "out_refund_no": no,
            "out_trade_no": refund["out_trade_no"],
            "status": refund["status"],
            "amount": {"refund": refund["amount"], "total": refund["total"], "currency": "CNY"},
        }
