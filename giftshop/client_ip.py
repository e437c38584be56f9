"""The client's address, the same for every throttle, log line and gateway call.

Behind `NUM_PROXIES` trusted proxies (nginx, a load balancer) that each append the address they
saw to `X-Forwarded-For`, the client is the entry that many places from the right; with none (the
default) it is the socket's `REMOTE_ADDR` and the header is ignored, so a client cannot pick its
own address. DRF's throttles implement exactly this (`BaseThrottle.get_ident` with the
`NUM_PROXIES` API setting): this module reuses it, so no limit and no log disagree with them.
"""

from __future__ import annotations

from rest_framework.throttling import BaseThrottle

_IDENT = BaseThrottle()


def client_ip(request) -> str:
    return _IDENT.get_ident(request)
