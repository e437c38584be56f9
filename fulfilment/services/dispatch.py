"""E-waybills for a batch of to-ship parcels: the courier calls are made side by side (they wait
on the network, not the CPU), the database work once per batch.

Exactly one waybill per parcel however often a batch runs or is cut short: the Shipment rows are
created before the calls, each call carries the slot's idempotency key (`slot-<id>`), and a number
is recorded only on a shipment that has none (`shipments_issue_bulk`), one row per slot.

A parcel refunded meanwhile is not sent: the slots are looked at again once their shipments are
locked, and the locks are held through the courier's answers, so a refund's cancel (which makes or
locks the same row) comes after this batch and cancels what it recorded.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connections, transaction
from django.db.models import F

from fulfilment.carriers import Waybill, carrier
from fulfilment.models import Shipment
from fulfilment.services.shipments import slot_parcel, slots_not_shippable
from fulfilment.states import shipments_fail_bulk, shipments_issue_bulk
from gifts.events import waybills_issued_events
from gifts.models import Slot, SlotStatus
from giftshop.errors import AppError, ProviderUnavailable
from outbox.jobs import enqueue_many
from privacy.models import PiiAccessLog
from privacy.services import pii_access_record

log = logging.getLogger(__name__)

# The first try and eight more, as the per-parcel task (`dispatch_shipment`, max_retries=8).
DISPATCH_MAX_ATTEMPTS = 9


@dataclass(frozen=True)
class Retry:
    """A courier outage for this parcel: ask again after `seconds`."""

    seconds: float
    error: str


def waybills_obtain(*, slot_ids: Iterable[int]) -> dict[int, Retry]:
    """Ask the courier for a waybill for every to-ship slot among `slot_ids` that has none, many
    calls in flight at once, and record what it answered. Returns the slots to ask again later (a
    temporary outage, before the last attempt); a refusal, or an outage at the last attempt, is
    recorded as a failed shipment for the merchant and the operator, like the per-parcel task."""
    ids = sorted(set(slot_ids))
    slots = list(
        Slot.objects.select_related("gift__shop", "sku__product", "address").filter(
            pk__in=ids, status=SlotStatus.TO_SHIP
        )
    )
    if not slots:
        return {}
    courier = carrier()
    with transaction.atomic():
        Shipment.objects.bulk_create(
            [Shipment(slot=s, shop_id=s.gift.shop_id, carrier=courier.name) for s in slots], ignore_conflicts=True
        )
        shipments = {sh.slot_id: sh for sh in Shipment.objects.select_for_update().filter(slot__in=slots)}
        stopped = slots_not_shippable([s.pk for s in slots])  # refunded since they were read
        pending = [
            s
            for s in slots
            if not shipments[s.pk].waybill_no
            and shipments[s.pk].status != Shipment.Status.CANCELLED
            and s.pk not in stopped
        ]
        if not pending:
            return {}
        Shipment.objects.filter(pk__in=[shipments[s.pk].pk for s in pending]).update(attempts=F("attempts") + 1)
        pii_access_record(user=None, slots=pending, channel=PiiAccessLog.Channel.CARRIER)
        answers = in_parallel(courier.create_waybill, [slot_parcel(s) for s in pending])

        issued, retry, failed = [], {}, []
        for slot, answer in zip(pending, answers, strict=True):
            shipment = shipments[slot.pk]
            attempts = shipment.attempts + 1
            if isinstance(answer, ProviderUnavailable) and attempts < DISPATCH_MAX_ATTEMPTS:
                retry[slot.pk] = Retry(seconds=min(600, 2**attempts), error=str(answer))
                failed.append((shipment, str(answer), False))
            elif isinstance(answer, ProviderUnavailable):
                failed.append((shipment, str(answer), True))
            elif isinstance(answer, AppError):  # the courier refused (account, quota, address)
                failed.append((shipment, f"{answer.code}: {answer.detail}", True))
            else:
                waybill = answer if isinstance(answer, Waybill) else Waybill(number=answer)
                issued.append((shipment, waybill))
        recorded = shipments_issue_bulk(issued)
        by_id = {s.pk: s for s in pending}
        waybills_issued_events([(by_id[sh.slot_id], sh.carrier, sh.waybill_no) for sh in recorded])
        if hasattr(courier, "subscribe_tracking"):
            # Push tracking, asked for separately so a courier outage only delays it.
            enqueue_many("fulfilment.tasks.subscribe_tracking", [(sh.pk,) for sh in recorded])
        shipments_fail_bulk(failed)
    log.info("waybills issued: %s; to ask again: %s; failed: %s", len(recorded), len(retry), len(failed) - len(retry))
    return retry


def in_parallel(call: Callable, items: list) -> list:
    """`call(item)` for every item on the process's courier threads (COURIER_CONCURRENCY of them);
    each answer in order, or the courier's own error (ProviderUnavailable, AppError) in its place.
    Anything else is a bug: raised here."""
    return _courier_threads().map(call, items)


class CourierThreads:
    """The threads a worker process keeps for its waybill batches. Kept, not started per batch:
    starting 16 threads and their database connections (the sandbox courier keeps its books in the
    database) cost about a millisecond per parcel. A thread with no work for IDLE_SECONDS closes its
    database connections, so a quiet worker holds none. (`ThreadPoolExecutor` has no hook to close
    a thread's connections when it idles, hence this small pool.)"""

    IDLE_SECONDS = 2.0

    def __init__(self, size: int) -> None:
        self.size = size
        self.work: queue.SimpleQueue = queue.SimpleQueue()
        for n in range(size):
            threading.Thread(target=self._serve, name=f"courier-{n}", daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                job = self.work.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                connections.close_all()
                continue
            job()

    def map(self, call: Callable, items: list) -> list:
        answers: list = [None] * len(items)
        errors: list[BaseException] = []
        left, lock, finished = [len(items)], threading.Lock(), threading.Event()

        def run(i: int) -> None:
            try:
                answers[i] = call(items[i])
            except (ProviderUnavailable, AppError) as exc:
                answers[i] = exc
            except BaseException as exc:  # noqa: BLE001 (raised in the caller's thread below)
                errors.append(exc)
            finally:
                with lock:
                    left[0] -= 1
                    if not left[0]:
                        finished.set()

        if not items:
            return answers
        for i in range(len(items)):
            self.work.put(lambda i=i: run(i))
        finished.wait()
        if errors:
            raise errors[0]
        return answers


_threads: tuple[int, CourierThreads] | None = None
_threads_lock = threading.Lock()


def _courier_threads() -> CourierThreads:
    """This process's courier threads (a prefork child starts its own after the fork)."""
    global _threads
    size = max(1, settings.COURIER_CONCURRENCY)
    with _threads_lock:
        if _threads is None or _threads[0] != os.getpid() or _threads[1].size != size:
            _threads = (os.getpid(), CourierThreads(size))
        return _threads[1]
