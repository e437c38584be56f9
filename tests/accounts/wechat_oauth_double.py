"""A local WeChat OAuth for the tests: a real HTTP server on 127.0.0.1 speaking WeChat's wire protocol.

`/connect/oauth2/authorize` (official account, inside WeChat) and `/connect/qrconnect` (open
platform QR login) check the app and send the browser back to `redirect_uri` with a one-time `code`
and the `state` it was given, as WeChat does once the person agrees (or at once for snsapi_base).
`/sns/oauth2/access_token` trades a code for an access token and the openid, checking the app's
secret; `/sns/userinfo` answers the profile for a token. Errors are answered as WeChat does: HTTP 200
with `{"errcode": ..., "errmsg": ...}`.
"""

from __future__ import annotations

import json
import secrets
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.doubles import LocalServer


class WeChatOAuthDouble(LocalServer):
    def __init__(self, apps: dict[str, str]):
        self.apps = dict(apps)  # appid -> secret
        self.people: dict[str, dict] = {}  # who is "scanning" next: set by the test
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.requests: list[tuple[str, dict]] = []
        self._listen()

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                target = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(target.query).items()}
                double.requests.append((target.path, query))
                if target.path in ("/connect/oauth2/authorize", "/connect/qrconnect"):
                    location = double.authorize(target.path, query)
                    self.send_response(302)
                    self.send_header("Location", location)
                    self.end_headers()
                    return
                if target.path == "/sns/oauth2/access_token":
                    body = double.access_token(query)
                elif target.path == "/sns/userinfo":
                    body = double.userinfo(query)
                else:
                    body = {"errcode": 40066, "errmsg": "invalid url"}
                raw = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        return Handler

    # ----- what WeChat does -----

    def next_person(self, openid: str, *, nickname: str = "微信好友", unionid: str = "") -> None:
        self.people["next"] = {"openid": openid, "nickname": nickname, "unionid": unionid}

    def issue_code(self, appid: str, scope: str) -> str:
        person = self.people["next"]
        code = secrets.token_hex(16)
        self.codes[code] = {"appid": appid, "scope": scope, **person}
        return code

    def authorize(self, path: str, query: dict) -> str:
        appid, scope = query.get("appid", ""), query.get("scope", "")
        if appid not in self.apps or query.get("response_type") != "code":
            return f"{query.get('redirect_uri', '/')}?{urlencode({'error': 'invalid_appid'})}"
        code = self.issue_code(appid, scope)
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"

    def access_token(self, q: dict) -> dict:
        if self.apps.get(q.get("appid", "")) != q.get("secret") or not q.get("secret"):
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        issued = self.codes.pop(q.get("code", ""), None)  # a code works once
        if issued is None or issued["appid"] != q["appid"] or q.get("grant_type") != "authorization_code":
            return {"errcode": 40029, "errmsg": "invalid code"}
        token = secrets.token_hex(20)
        self.tokens[token] = issued
        answer = {
            "access_token": token,
            "expires_in": 7200,
            "refresh_token": secrets.token_hex(20),
            "openid": issued["openid"],
            "scope": issued["scope"],
        }
        if issued["unionid"]:
            answer["unionid"] = issued["unionid"]
        return answer

    def userinfo(self, q: dict) -> dict:
        issued = self.tokens.get(q.get("access_token", ""))
        if issued is None or issued["openid"] != q.get("openid"):
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        if issued["scope"] == "snsapi_base":
            return {"errcode": 48001, "errmsg": "api unauthorized"}
        return {
            "openid": issued["openid"],
            "nickname": issued["nickname"],
            "headimgurl": "https://thirdwx.qlogo.cn/mmopen/x/132",
            "unionid": issued["unionid"] or None,
        }
