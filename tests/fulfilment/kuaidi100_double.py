"""A local Kuaidi100 for the tests: a real HTTP server on 127.0.0.1 that speaks its wire protocol
with a key, secret and push salt made fresh for each test.

It checks every e-waybill order's `sign` (upper-case MD5 of param + t + key + secret) and refuses a
wrong one with code 30002, issues one waybill per `orderId` (the same `orderId` again answers the
waybill it already issued), answers a label short link, records tracking subscriptions (one per
number: the same number again is 501), and builds pushes the way Kuaidi100 POSTs them to the
subscription's `callbackurl` (its query included): a form with `param` and `sign` =
MD5(param + the subscription's salt).

It cancels e-waybills (`method=cancel` on the same URL, signed the same way: a wrong signature is
503): a number it issued, with the order's company and the courier order number it answered
(`kdComOrderNum`), else 400. `cancel_codes` lists the codes its next cancel answers give (500 a
server fault, 201 取消失败); a number in `collected` is refused with 201, as a courier that has
the parcel refuses. A number cancelled before is answered "订单已取消" with `repeat_cancel_code`:
Kuaidi100 publishes no code of its own for a repeat cancel (its e-waybill cancel document lists 200,
201, 400, 500 and 503; its 寄件 cancel document says cancelling a cancelled order answers 500), so
only the message tells it. `stall_seconds` delays a cancel's answer too, after the cancel is done.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.doubles import LocalServer


def md5_upper(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest().upper()  # noqa: S324 (Kuaidi100's scheme)


class Kuaidi100Double(LocalServer):
    def __init__(self):
        self.key = "k100-" + secrets.token_hex(8)
        self.secret = secrets.token_hex(16)
        self.salt = secrets.token_hex(12)  # the site's KUAIDI100_PUSH_SALT
        self.partner_id = "PARTNER" + secrets.token_hex(4)
        self.orders: dict[str, dict] = {}  # orderId -> the order and the waybill it got
        self.subscriptions: list[dict] = []
        self.requests: list[dict] = []
        self.refused: list[str] = []
        self.stall_seconds = 0.0  # issue the waybill, then answer this late (a timeout at our side)
        self.down = False  # answer every request with a 502
        self.ordered = threading.Event()  # set when an order is taken (before a stalled answer)
        self.cancels: list[dict] = []  # the signed cancel requests' params, in order
        self.cancelled: set[str] = set()
        self.cancel_codes: list[int] = []  # the next cancel answers' codes (then 200)
        self.repeat_cancel_code = 201  # the code of the answer to cancelling a cancelled number
        self.collected: set[str] = set()
        self._listen()

    def settings(self) -> dict:
        return {
            "KUAIDI100_KEY": self.key,
            "KUAIDI100_SECRET": self.secret,
            "KUAIDI100_PUSH_SALT": self.salt,
            "KUAIDI100_PARTNER_ID": self.partner_id,
            "KUAIDI100_TEMPLATE_ID": "tmpl-" + secrets.token_hex(6),
            "KUAIDI100_API_BASE": self.url,
            "KUAIDI100_POLL_BASE": self.url,
            "KUAIDI100_TIMEOUT_SECONDS": 0.5,
        }

    def waybills(self) -> list[str]:
        return [o["kuaidinum"] for o in self.orders.values()]

    def subscription(self, number: str) -> dict:
        [sub] = [s for s in self.subscriptions if s["number"] == number]
        return sub

    def callback(self, number: str) -> str:
        """The path and query Kuaidi100 pushes this number's tracking to (its subscription's URL)."""
        url = urlsplit(self.subscription(number)["parameters"]["callbackurl"])
        return url.path + ("?" + url.query if url.query else "")

    # ----- what Kuaidi100 sends us -----

    def push(
        self,
        number: str,
        state: str,
        *,
        time_: str = "2026-12-03 10:00:00",
        context: str = "快件已揽收",
        company: str = "zhongtong",
        status: str = "polling",
        salt: str | None = None,
        sign: str | None = None,
        param: str | None = None,
    ) -> bytes:
        """The urlencoded form Kuaidi100 POSTs to our callback URL, signed with the salt the
        number's subscription gave (`salt`: another one)."""
        if param is None:
            param = json.dumps(
                {
                    "status": status,
                    "billstatus": "",
                    "message": "",
                    "lastResult": {
                        "message": "ok",
                        "state": state,
                        "status": "200",
                        "condition": "F00",
                        "ischeck": "1" if state == "3" else "0",
                        "com": company,
                        "nu": number,
                        "data": [
                            {"context": context, "time": time_, "ftime": time_, "status": "", "areaCode": ""},
                            {"context": "商家已下单", "time": "2026-12-01 09:00:00", "ftime": "2026-12-01 09:00:00"},
                        ],
                    },
                },
                ensure_ascii=False,
            )
        if sign is None:
            if salt is None:
                subscribed = [s for s in self.subscriptions if s["number"] == number]
                salt = subscribed[0]["parameters"]["salt"] if subscribed else self.salt
            sign = md5_upper(param + salt)
        return urlencode({"sign": sign, "param": param}).encode()

    # ----- the HTTP side -----

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                path = urlsplit(self.path).path
                double.requests.append({"path": path, "form": form})
                if double.down:
                    return self._answer(502, {"message": "bad gateway"})
                if path == "/label/order" and form.get("method") == "cancel":
                    answer = double._cancel(form)
                    if double.stall_seconds:
                        time.sleep(double.stall_seconds)
                    return self._answer(200, answer)
                if path == "/label/order":
                    answer = double._order(form)
                    double.ordered.set()
                    if double.stall_seconds:
                        time.sleep(double.stall_seconds)
                    return self._answer(200, answer)
                if path == "/poll":
                    return self._answer(200, double._subscribe(form))
                return self._answer(404, {"message": "no such API in the test double"})

            def _answer(self, status: int, data: dict):
                payload = json.dumps(data, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json;charset=UTF-8")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout drills)
                    pass

        return Handler

    def _order(self, form: dict) -> dict:
        expected = md5_upper(form.get("param", "") + form.get("t", "") + self.key + self.secret)
        if form.get("key") != self.key or form.get("sign") != expected:
            self.refused.append("/label/order")
            return {"code": 30002, "message": "验证签名失败", "time": 1, "data": None}
        param = json.loads(form["param"])
        if form.get("method") != "order" or param.get("partnerId") != self.partner_id:
            return {"code": 30001, "message": "参数错误", "time": 1, "data": None}
        for man in ("recMan", "sendMan"):
            if not all((param.get(man) or {}).get(f) for f in ("name", "mobile", "printAddr")):
                return {"code": 30001, "message": f"参数错误: {man}", "time": 1, "data": None}
        order_id = param.get("orderId") or secrets.token_hex(8)
        if order_id not in self.orders:
            number = "7" + "".join(secrets.choice("0123456789") for _ in range(13))
            self.orders[order_id] = {
                "param": param,
                "kuaidinum": number,
                "taskId": secrets.token_hex(16).upper(),
                "label": f"https://label.kuaidi100.test/{number}.png",
                "kdComOrderNum": "KD" + secrets.token_hex(6).upper(),
            }
        order = self.orders[order_id]
        data = {k: order[k] for k in ("kuaidinum", "taskId", "label", "kdComOrderNum")}
        return {"code": 200, "message": "success", "time": 1, "data": {**data, "kuaidicom": param["kuaidicom"]}}

    def _cancel(self, form: dict) -> dict:
        expected = md5_upper(form.get("param", "") + form.get("t", "") + self.key + self.secret)
        if form.get("key") != self.key or form.get("sign") != expected:
            self.refused.append("cancel")
            return {"success": False, "code": 503, "message": "签名验证失败"}
        param = json.loads(form["param"])
        self.cancels.append(param)
        if self.cancel_codes:
            code = self.cancel_codes.pop(0)
            return {"success": False, "code": code, "message": {500: "服务器错误", 201: "取消失败"}.get(code, "")}
        [order] = [o for o in self.orders.values() if o["kuaidinum"] == param.get("kuaidinum")] or [None]
        if (
            order is None
            or param.get("kuaidicom") != order["param"]["kuaidicom"]
            or param.get("orderId") != order["kdComOrderNum"]
            or param.get("partnerId") != self.partner_id
        ):
            return {"success": False, "code": 400, "message": "参数错误"}
        if order["kuaidinum"] in self.cancelled:
            return {"success": False, "code": self.repeat_cancel_code, "message": "订单已取消"}
        if order["kuaidinum"] in self.collected:
            return {"success": False, "code": 201, "message": "取消失败：快递员已揽收，不能取消"}
        self.cancelled.add(order["kuaidinum"])
        return {"success": True, "code": 200, "message": "success", "time": 1}

    def _subscribe(self, form: dict) -> dict:
        param = json.loads(form.get("param") or "{}")
        if form.get("schema") != "json" or param.get("key") != self.key:
            return {"result": False, "returnCode": "600", "message": "您不是合法的订阅者"}
        if any(s["number"] == param.get("number") for s in self.subscriptions):
            return {"result": False, "returnCode": "501", "message": "POLL:重复订阅"}
        self.subscriptions.append(param)
        return {"result": True, "returnCode": "200", "message": "提交成功"}
