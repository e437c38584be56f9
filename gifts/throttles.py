"""The claim's rate limits: grab, accept and decline (and a lottery's entry, a bulk link's code), per
account and per client address, counted together whether they come through the API or a claim page
(the same keys in the same storage)."""

from __future__ import annotations

import math

from django.utils.translation import gettext as _

from giftshop.errors import Throttled
from giftshop.throttling import CountedRateThrottle, CountedUserRateThrottle


class ClaimThrottle(CountedUserRateThrottle):
    """Grab / accept / decline: per account."""

    scope = "claim"


class ClaimIpThrottle(CountedRateThrottle):
    """The same actions per client IP, whoever is signed in: one machine cycling many accounts is held too."""

    scope = "claim_ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


CLAIM_THROTTLES = [ClaimThrottle, ClaimIpThrottle]


def claim_limits_check(request) -> None:
    """Count a claim page's action (a Django request) against the API's limits. Over one: Throttled,
    which pages answer with 429 and `Retry-After` (giftshop.middleware.AppErrorPageMiddleware)."""
    for throttle_class in CLAIM_THROTTLES:
        throttle = throttle_class()
        if not throttle.allow_request(request, None):
            seconds = math.ceil(throttle.wait())
            raise Throttled(_("操作太频繁，请 %(seconds)d 秒后再试") % {"seconds": seconds}, retry_after=seconds)
