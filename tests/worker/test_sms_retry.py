"""A bulk recipient's one-time code, sent by a real worker through Tencent Cloud SMS's SDK to a
local double that does not answer the first try: Celery retries the job with backoff and the code
arrives once; nothing is left in the outbox."""

import pytest

from campaigns.models import BulkRecipient
from campaigns.services.bulk import bulk_checkout, bulk_code_send, bulk_code_verify, bulk_order_create
from outbox.models import Job
from tests.conftest import pay
from tests.factories import SkuFactory
from tests.sms.tencent_double import TencentSmsDouble
from tests.worker.conftest import eager_tasks, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _as_env(settings: dict) -> dict:
    return {
        k: ",".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else str(v) for k, v in settings.items()
    }


@pytest.fixture
def tencent():
    double = TencentSmsDouble().start()
    yield double
    double.stop()


@pytest.mark.both_brokers
def test_a_worker_retries_a_timed_out_code_and_it_is_sent_once(start_worker, live_broker, sender, recipient, tencent):
    worker = start_worker(broker_url=live_broker, env=_as_env(tencent.settings()))
    sku = SkuFactory(stock=10, price_fen=1000, original_price_fen=1200)
    with eager_tasks():  # the list, its payment and its link, in this process (console SMS)
        order = bulk_order_create(sender=sender, sku_id=sku.pk, csv_text="鲍勃,13900001111,\n")
        order.refresh_from_db()
        gift = bulk_checkout(order=order, sender=sender)
        pay(gift)
    row = BulkRecipient.objects.get(slot__gift=gift)

    tencent.stall_next = 1  # the first try gets no answer before the worker's client gives up
    bulk_code_send(row=row, user=recipient)  # the job goes to the broker; the worker sends it
    wait_for(lambda: tencent.sent, what="the worker to send the code after its retry", workers=[worker])
    worker.wait_idle()

    assert len(tencent.requests) == 2  # the timed-out try and the retry
    assert [(m["phone"], m["template"]) for m in tencent.sent] == [("+8613900001111", "gift_code")]
    assert not Job.objects.filter(task="campaigns.tasks.send_bulk_message").exists()
    assert "ClientNetworkError" in worker.log_tail(200) and tencent.sent[0]["params"][0] not in worker.log_tail(400)
    slot = bulk_code_verify(row=row, user=recipient, code=tencent.sent[0]["params"][0])
    assert slot.recipient_id == recipient.pk
