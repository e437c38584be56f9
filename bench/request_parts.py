"""Where one request's time goes, part by part, without a profiler's distortion: timers around each
middleware of the chain, Django's own steps (URL resolution, view middleware, rendering), DRF's
dispatch steps (negotiation, authentication, permissions, throttles, the handler, the exception
handler), the grab's own steps (the gift's facts, the gate, the SQL take) and the garbage collector.
Each part is charged its own time only: what runs inside another timed part is charged to that part,
so the parts add up to the request.

Used by bench/profile_requests.py with PROFILE_PARTS=1 (wall clock: a perf_counter pair per part,
about a microsecond per part and request, small next to what is measured but not nothing) or
PROFILE_PARTS=cpu (the thread's CPU time).
"""

from __future__ import annotations

import gc
import time
from collections import defaultdict
from collections.abc import Callable


class Parts:
    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.own: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._inner: list[float] = []

    def wrap(self, label: str, fn: Callable) -> Callable:
        parts = self

        def timed(*args, **kwargs):
            parts._inner.append(0.0)
            started = parts.clock()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = parts.clock() - started
                inner = parts._inner.pop()
                parts.own[label] += elapsed - inner
                parts.calls[label] += 1
                if parts._inner:
                    parts._inner[-1] += elapsed

        timed.__wrapped__ = fn
        return timed

    def gc_callback(self, phase: str, info: dict) -> None:
        """gc.callbacks entry: a collection is a part of its own, taken out of the part it interrupted."""
        label = f"garbage collector (generation {info['generation']})"
        if phase == "start":
            self._inner.append(0.0)
            self._gc_started = self.clock()
            return
        elapsed = self.clock() - self._gc_started
        self.own[label] += elapsed - self._inner.pop()
        self.calls[label] += 1
        if self._inner:
            self._inner[-1] += elapsed

    def reset(self) -> None:
        self.own.clear()
        self.calls.clear()

    def table(self, requests: int) -> list[tuple[str, float, float]]:
        """(part, ms per request, calls per request), in the order the parts were first met."""
        return [(label, own / requests * 1000, self.calls[label] / requests) for label, own in self.own.items()]


def _patch(parts: Parts, owner, name: str, label: str) -> None:
    setattr(owner, name, parts.wrap(label, getattr(owner, name)))


def instrument(application, *, cpu: bool = False) -> Parts:
    """Put timers into a loaded WSGIHandler and the classes a request goes through. Wrap the call
    of the application itself with `parts.wrap` to charge what happens outside the chain."""
    from rest_framework import views
    from rest_framework.response import Response

    parts = Parts(time.thread_time if cpu else time.perf_counter)
    # The middleware chain: convert_exception_to_response(instance) wraps each middleware, and each
    # one calls the next link through its get_response (a closure cell for function middleware).
    link = application._middleware_chain

    def setter(fn):
        application._middleware_chain = fn

    while True:
        target = link.__wrapped__
        if getattr(target, "__self__", None) is application:  # the innermost: _get_response
            setter(parts.wrap("Django _get_response (view call, rest)", link))
            break
        if hasattr(target, "get_response"):
            label, nxt = f"mw {type(target).__name__}", target.get_response

            def next_setter(fn, target=target):
                target.get_response = fn

        else:
            cell = _closure_cell(target)
            label, nxt = f"mw {target.__module__}", cell.cell_contents

            def next_setter(fn, cell=cell):
                cell.cell_contents = fn

        setter(parts.wrap(label, link))
        setter, link = next_setter, nxt
    application.get_response = parts.wrap("Django get_response (urlconf, log_response)", application.get_response)
    application.resolve_request = parts.wrap("URL resolution", application.resolve_request)
    application._view_middleware = [
        parts.wrap(f"process_view {type(m.__self__).__name__}", m) for m in application._view_middleware
    ]
    application._exception_middleware = [
        parts.wrap(f"process_exception {_owner(m)}", m) for m in application._exception_middleware
    ]
    for name, label in (
        ("initialize_request", "DRF initialize_request (Request, parsers, authenticators)"),
        ("perform_content_negotiation", "DRF content negotiation"),
        ("determine_version", "DRF versioning"),
        ("perform_authentication", "DRF authentication (token; a grab: and a look at its gate, one script)"),
        ("check_permissions", "DRF permissions"),
        ("check_throttles", "DRF throttles"),
        ("handle_exception", "DRF exception handler (409 body)"),
        ("finalize_response", "DRF finalize_response"),
    ):
        _patch(parts, views.APIView, name, label)
    _patch(parts, Response, "render", "DRF render (JSON)")
    from gifts.services import grab, grab_gate

    _patch(parts, grab, "_gift_facts", "grab: the gift's facts (local cache)")
    _patch(parts, grab_gate, "gate_try", "grab: gate (Lua, one Redis round trip)")
    _patch(parts, grab, "_grab_in_database", "grab: take a slot (SQL)")
    from giftshop import logs

    logs.access_log.info = parts.wrap("access log line", logs.access_log.info)
    gc.callbacks.append(parts.gc_callback)
    return parts


def _closure_cell(fn):
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if callable(value) and getattr(value, "__wrapped__", None) is not None:
            return cell
    return None


def _owner(method) -> str:
    owner = getattr(method, "__self__", None)
    return type(owner).__name__ if owner is not None else getattr(method, "__qualname__", repr(method))
