"""What every provider's test double shares: a real HTTP server on a free loopback port, served
from a thread, so the SDK or client under test really connects and really sends its bytes.

A double builds its request handler class in `_handler()`, calls `self._listen()` at the end of
`__init__`, and is used as `double = SomeDouble().start()` ... `double.stop()`.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LocalServer:
    poll_interval = 0.5  # how soon `stop()` is noticed by the serving thread
    block_on_close = True  # `stop()` waits for requests still being answered

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def _listen(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.block_on_close = self.block_on_close
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": self.poll_interval}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
