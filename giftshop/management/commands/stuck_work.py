"""`manage.py stuck_work [--minutes N] [--replay]`: list the work that did not move on, and hand it
to the workers again. The listing and the replay are giftshop/stuck_work.py."""

from datetime import timedelta

from django.core.management.base import BaseCommand

from giftshop.stuck_work import stuck_work_list, stuck_work_replay

LABELS = {
    "claims": "accepted claims not yet processed (slot ids)",
    "waybills_missing": "to-ship slots without a waybill (slot ids)",
    "waybills_failed": "to-ship slots whose waybill request failed for good (slot ids)",
    "refunds": "refunds still pending (refund ids)",
    "unpaid": "gifts unpaid past their payment window (gift ids)",
    "jobs_failed": "outbox jobs that gave up (job ids)",
    "cancels_failed": "refunded parcels whose e-waybill the courier did not take back (shipment ids)",
}


class Command(BaseCommand):
    help = "List claims, waybills, refunds and unpaid gifts stuck for more than N minutes; --replay re-enqueues them."

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=int, default=10, help="only rows stuck for longer than this (default 10)")
        parser.add_argument("--limit", type=int, default=1000, help="at most this many rows of each kind")
        parser.add_argument("--replay", action="store_true", help="re-enqueue them through the usual tasks")

    def handle(self, *, minutes, limit, replay, **_):
        older_than = timedelta(minutes=minutes)
        stuck = stuck_work_list(older_than=older_than, limit=limit)
        for kind, label in LABELS.items():
            ids = getattr(stuck, kind)
            shown = " ".join(str(i) for i in ids[:50]) + (" …" if len(ids) > 50 else "")
            self.stdout.write(f"{kind}: {len(ids)} {label}" + (f": {shown}" if ids else ""))
        if not replay:
            if stuck.total():
                self.stdout.write("Run again with --replay to hand them to the workers.")
            return
        done = stuck_work_replay(older_than=older_than, limit=limit)
        self.stdout.write(self.style.SUCCESS("replayed: " + ", ".join(f"{k} {v}" for k, v in done.items())))
