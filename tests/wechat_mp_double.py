"""A local WeChat official-account API for the tests: a real HTTP server on 127.0.0.1 answering
`GET /cgi-bin/token` and `GET /cgi-bin/ticket/getticket` the way api.weixin.qq.com does, with an
AppID and AppSecret made fresh for each test.

It checks the AppSecret, hands out access tokens and jsapi tickets with `expires_in`, refuses an
unknown or revoked token with errcode 40001, and can be told to answer the next calls with an
errcode (e.g. 40164, the caller's IP is not whitelisted) or to stall past the client's timeout.
"""

from __future__ import annotations

import json
import secrets
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.doubles import LocalServer

ERRMSG = {
    40001: "invalid credential, access_token is invalid or not latest",
    40013: "invalid appid",
    40125: "invalid appsecret",
    40164: "invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist",
    40097: "invalid args",
}


class WeChatMPDouble(LocalServer):
    def __init__(self):
        self.appid = "wx" + secrets.token_hex(8)
        self.secret = secrets.token_hex(16)
        self.tokens: set[str] = set()
        self.tickets: list[str] = []
        self.calls: list[tuple[str, dict]] = []  # (path, query) of every request
        self.fail_next: dict[str, list[int]] = {"/cgi-bin/token": [], "/cgi-bin/ticket/getticket": []}
        self.stall_seconds = 0.0
        self._listen()

    def settings(self) -> dict:
        return {
            "WECHAT_MP_APPID": self.appid,
            "WECHAT_MP_SECRET": self.secret,
            "WECHAT_MP_API_BASE": self.url,
            "WECHAT_MP_TIMEOUT_SECONDS": 1.0,
        }

    def revoke_tokens(self) -> None:
        """As when another server fetched a new token and the old one ran out: 40001 for it."""
        self.tokens.clear()

    def paths(self) -> list[str]:
        return [path for path, _ in self.calls]

    # ----- the API -----

    def _token(self, q: dict) -> dict:
        if q.get("grant_type") != "client_credential":
            return self._error(40097)
        if q.get("appid") != self.appid:
            return self._error(40013)
        if q.get("secret") != self.secret:
            return self._error(40125)
        token = "AT_" + secrets.token_urlsafe(24)
        self.tokens.add(token)
        return {"access_token": token, "expires_in": 7200}

    def _ticket(self, q: dict) -> dict:
        if q.get("access_token") not in self.tokens:
            return self._error(40001)
        if q.get("type") != "jsapi":
            return self._error(40097)
        ticket = "TICKET_" + secrets.token_urlsafe(30)
        self.tickets.append(ticket)
        return {"errcode": 0, "errmsg": "ok", "ticket": ticket, "expires_in": 7200}

    @staticmethod
    def _error(code: int) -> dict:
        return {"errcode": code, "errmsg": ERRMSG.get(code, "error")}

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                double.calls.append((parts.path, query))
                if double.stall_seconds:
                    time.sleep(double.stall_seconds)
                queued = double.fail_next.get(parts.path)
                if queued:
                    body = double._error(queued.pop(0))
                elif parts.path == "/cgi-bin/token":
                    body = double._token(query)
                elif parts.path == "/cgi-bin/ticket/getticket":
                    body = double._ticket(query)
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json; encoding=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    pass

        return Handler
