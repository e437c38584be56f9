"""The claim's rate limits: grab, accept and decline, per account and per client address, counted
together whether they come through the API or the claim page (the same keys in the same storage)."""

from __future__ import annotations

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


def claim_wait(request) -> float | None:
    """Count a claim page's action (a Django request) against the API's limits: None when it may go
    on, otherwise the seconds to wait."""
    for throttle_class in CLAIM_THROTTLES:
        throttle = throttle_class()
        if not throttle.allow_request(request, None):
            return throttle.wait()
    return None
