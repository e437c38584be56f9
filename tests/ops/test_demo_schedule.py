"""The embedded demo keeps its promises without Redis or any service: `make run` starts `celery
beat` beside the web server on the demo settings (SQLite, eager tasks, in-memory broker), and beat
runs the schedule itself. Here: a real beat process on a fresh demo database cancels an order left
unpaid, and expires and refunds a gift nobody accepted."""

import sqlite3
import subprocess
import sys
import time

import pytest

from tests.ops.demo import ROOT, demo_env, manage

SETUP = """
from datetime import timedelta
from django.utils import timezone
from django.contrib.auth import get_user_model
from gifts.models import Gift, Slot
from gifts.services.checkout import gift_create
from sandbox.payment import gateway_pay
from shops.models import Sku
alice = get_user_model().objects.get(username="alice")
sku = Sku.objects.filter(stock__gt=5, product__on_sale=True, product__shop__gifting_enabled=True).order_by("id").first()
past = timezone.now() - timedelta(minutes=1)
unpaid = gift_create(sender=alice, sku_id=sku.pk)
Gift.objects.filter(pk=unpaid.pk).update(pay_deadline=past)
paid = gift_create(sender=alice, sku_id=sku.pk)
gateway_pay(out_trade_no=paid.payment.out_trade_no)
Slot.objects.filter(gift=paid).update(expires_at=past)
Gift.objects.filter(pk=paid.pk).update(expires_at=past)
print(unpaid.pk, paid.pk)
"""


def test_beat_runs_the_schedule_on_the_demo_settings_without_any_service(tmp_path):
    db_path = tmp_path / "demo.sqlite3"
    env = demo_env(db_path)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "load_demo")
    unpaid_id, paid_id = (int(x) for x in manage(env, "shell", input_text=SETUP).split()[-2:])

    def status(gift_id: int) -> str:
        with sqlite3.connect(db_path, timeout=20) as db:
            return db.execute("SELECT status FROM gifts_gift WHERE id = ?", (gift_id,)).fetchone()[0]

    assert (status(unpaid_id), status(paid_id)) == ("pending_payment", "sent")
    log = open(tmp_path / "beat.log", "wb")  # noqa: SIM115
    beat = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "giftshop", "beat", "-l", "info", "-s", str(tmp_path / "schedule")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (status(unpaid_id), status(paid_id)) != ("cancelled", "refunded"):
            assert beat.poll() is None, (tmp_path / "beat.log").read_text()[-3000:]
            time.sleep(0.5)
    finally:
        beat.terminate()
        beat.wait(timeout=30)
        log.close()
    assert (status(unpaid_id), status(paid_id)) == ("cancelled", "refunded"), (tmp_path / "beat.log").read_text()[
        -3000:
    ]
    with sqlite3.connect(db_path) as db:
        refunds = db.execute(
            "SELECT r.reason, r.status FROM gifts_refund r JOIN gifts_payment p ON r.payment_id = p.id "
            "WHERE p.gift_id = ?",
            (paid_id,),
        ).fetchall()
    assert refunds == [("expired", "succeeded")]


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
