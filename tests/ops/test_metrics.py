"""Task counters and the backlog gauges, read back from the /metrics text a scraper would get."""

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from fulfilment.services.shipments import shipment_record_failure
from gifts.models import SlotStatus
from gifts.services.claim import slot_decline, slot_hand_over
from gifts.tasks import cancel_unpaid_gifts
from payments.models import Refund
from payments.tasks import send_refund
from tests.ops.helpers import accept


def scrape() -> dict[tuple, float]:
    response = Client().get("/metrics")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.django_db
def test_a_task_run_counts_once_in_metrics_with_its_duration():
    task = "gifts.tasks.cancel_unpaid_gifts"
    before = scrape()
    cancel_unpaid_gifts.delay()
    after = scrape()
    runs = "giftshop_celery_task_runs_total"
    assert value(after, runs, task=task, state="SUCCESS") == value(before, runs, task=task, state="SUCCESS") + 1
    count = "giftshop_celery_task_duration_seconds_count"
    assert value(after, count, task=task) == value(before, count, task=task) + 1
    assert value(after, "giftshop_celery_task_failures_total", task=task) == value(
        before, "giftshop_celery_task_failures_total", task=task
    )


@pytest.mark.django_db
def test_a_task_that_raises_counts_as_a_failure():
    task = "payments.tasks.send_refund"
    before = scrape()
    with pytest.raises(Refund.DoesNotExist):
        send_refund.delay(987_654_321)
    after = scrape()
    failures = "giftshop_celery_task_failures_total"
    assert value(after, failures, task=task) == value(before, failures, task=task) + 1


def test_backlog_gauges_count_the_work_waiting_in_the_database(make_gift, recipient, address):
    waiting = make_gift()
    accept(waiting, recipient, address)  # its task never ran: claims_accepted

    no_waybill = accept(make_gift(), recipient, address)
    slot_hand_over(slot_id=no_waybill.pk)  # to ship, the dispatch task never ran

    failed = accept(make_gift(), recipient, address)
    slot_hand_over(slot_id=failed.pk)
    shipment_record_failure(slot_id=failed.pk, error="courier down", final=True)

    slot_decline(gift=make_gift(), user=recipient)  # refund recorded, not yet sent

    make_gift()  # paid and unclaimed: nothing waiting on us

    samples = scrape()
    gauge = "giftshop_work_backlog"
    assert value(samples, gauge, kind="claims_accepted") == 1
    assert value(samples, gauge, kind="to_ship_without_waybill") == 1
    assert value(samples, gauge, kind="shipments_failed") == 1
    assert value(samples, gauge, kind="refunds_pending") == 1
    assert failed.__class__.objects.get(pk=failed.pk).status == SlotStatus.TO_SHIP


def test_broker_queue_depth_is_read_from_redis(settings, make_gift):
    import redis

    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/13"
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("celery")
    client.rpush("celery", "m1", "m2", "m3")
    try:
        samples = scrape()
    finally:
        client.delete("celery")
    assert value(samples, "giftshop_broker_queue_depth", queue="celery") == 3


def test_metrics_are_closed_unless_public_or_asked_by_the_scraper(settings):
    settings.METRICS_PUBLIC = False
    settings.METRICS_TOKEN = "scrape-secret-token"
    settings.METRICS_ALLOWED_IPS = ["10.1.0.0/16"]
    client = Client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-token").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    # A forged X-Forwarded-For does not make an outsider an allowed address (no trusted proxy).
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 404
    settings.METRICS_PUBLIC = True
    assert client.get("/metrics").status_code == 200
