"""Bulk-gift messages through the real providers' SDKs and the outbox: a timeout leaves the job due
and it is sent once the provider answers, a refusal for good is recorded and the job ends. (A real
worker retrying with Celery's backoff: tests/worker/test_sms_retry.py.)"""

import pytest
from django.utils import timezone

from campaigns.models import BulkRecipient
from campaigns.services.bulk import bulk_checkout, bulk_code_send, bulk_code_verify, bulk_order_create
from gifts.models import GiftEvent
from outbox.jobs import jobs_republish_due
from outbox.models import Job
from tests.conftest import pay
from tests.factories import SkuFactory

pytestmark = pytest.mark.django_db

PHONE = "13900001111"


def _paid_bulk(capture, sender, rows: list[str]):
    sku = SkuFactory(stock=100, price_fen=1000, original_price_fen=1200)
    with capture(execute=True):
        order = bulk_order_create(sender=sender, sku_id=sku.pk, csv_text="\n".join(rows))
    order.refresh_from_db()
    with capture(execute=True):
        gift = bulk_checkout(order=order, sender=sender)
    with capture(execute=True):
        pay(gift)
    return BulkRecipient.objects.select_related("slot__gift").get(slot__gift=gift)


def test_the_personal_link_goes_through_tencent_as_its_template(django_capture_on_commit_callbacks, sender, tencent):
    row = _paid_bulk(django_capture_on_commit_callbacks, sender, [f"鲍勃,{PHONE},"])
    assert [(m["phone"], m["template"]) for m in tencent.sent] == [(f"+86{PHONE}", "gift_link")]
    assert tencent.sent[0]["params"][0] == "鲍勃" and tencent.sent[0]["params"][3] == row.token
    assert not Job.objects.filter(task="campaigns.tasks.send_bulk_message").exists()


def test_a_timeout_leaves_the_job_due_and_the_code_arrives_once_the_provider_answers(
    django_capture_on_commit_callbacks, sender, recipient, tencent
):
    row = _paid_bulk(django_capture_on_commit_callbacks, sender, [f"鲍勃,{PHONE},"])
    tencent.sent.clear()
    tencent.stall_next = 1  # the first try of the code gets no answer before the client's timeout
    with django_capture_on_commit_callbacks(execute=True):
        bulk_code_send(row=row, user=recipient)  # the recipient's request succeeds: the job is recorded
    assert tencent.sent == []
    job = Job.objects.get(task="campaigns.tasks.send_bulk_message")
    assert job.failed_at is None

    Job.objects.filter(pk=job.pk).update(due_at=timezone.now())  # its backoff has passed: beat publishes it again
    assert jobs_republish_due() == 1
    assert [m["template"] for m in tencent.sent] == ["gift_code"]
    assert not Job.objects.filter(pk=job.pk).exists()  # done, nothing left over
    slot = bulk_code_verify(row=row, user=recipient, code=tencent.sent[0]["params"][0])
    assert slot.recipient_id == recipient.pk


def test_a_refusal_for_good_is_recorded_in_the_gifts_trail_and_not_retried(
    django_capture_on_commit_callbacks, sender, recipient, aliyun
):
    row = _paid_bulk(django_capture_on_commit_callbacks, sender, [f"鲍勃,{PHONE},"])
    aliyun.code_for[PHONE] = ("isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10")
    requests = len(aliyun.requests)
    with django_capture_on_commit_callbacks(execute=True):
        bulk_code_send(row=row, user=recipient)
    assert len(aliyun.requests) == requests + 1
    event = GiftEvent.objects.get(slot=row.slot, kind="message_refused")
    assert event.data == {"channel": "sms", "template": "gift_code", "code": "isv.BUSINESS_LIMIT_CONTROL"}
    assert not Job.objects.filter(task="campaigns.tasks.send_bulk_message").exists()
