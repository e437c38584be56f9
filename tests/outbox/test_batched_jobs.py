"""Batched jobs on a real broker: a burst of jobs publishes a few batch messages, each starting after
the jobs it must cover were committed; eager Celery keeps one task per job."""

import pytest
from django.utils import timezone

from giftshop.celery import app
from outbox import jobs
from outbox.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch, settings):
    """What would go to the broker: (task, countdown) per message. A long window, so the test does
    not depend on how fast it runs."""
    settings.OUTBOX_KICK_SECONDS = 60
    monkeypatch.setattr(jobs, "_kicks", {})
    messages = []

    def fake_apply_async(self, args=None, kwargs=None, countdown=None, **options):
        messages.append((self.name, countdown))

    monkeypatch.setattr("celery.app.task.Task.apply_async", fake_apply_async)
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    try:
        yield messages
    finally:
        app.conf.task_always_eager = eager


def claim_job(slot_id: int) -> Job:
    return Job.objects.create(task="gifts.tasks.process_claim", args=[slot_id], due_at=timezone.now())


def test_a_burst_of_claim_jobs_publishes_one_batch_now_and_one_at_the_end_of_the_window(sent):
    for slot_id in range(50):
        assert jobs.publish(claim_job(slot_id)) is True

    assert [name for name, _ in sent] == ["gifts.tasks.process_claims"] * 2
    (_, now), (_, later) = sent
    assert now is None and 55 < later <= 60  # every job after the first rides on the second message


def test_a_job_that_is_not_batched_is_still_its_own_message(sent):
    job = Job.objects.create(task="gifts.tasks.send_notification_email", args=[1], due_at=timezone.now())

    jobs.publish(job)

    assert sent == [("gifts.tasks.send_notification_email", None)]


def test_a_batch_message_the_broker_refused_is_tried_again_by_the_next_job(sent, monkeypatch):
    def broker_down(self, *args, **kwargs):
        raise ConnectionError("broker down")

    with monkeypatch.context() as down:
        down.setattr("celery.app.task.Task.apply_async", broker_down)
        assert jobs.publish(claim_job(1)) is False

    assert jobs.publish(claim_job(2)) is True
    assert sent == [("gifts.tasks.process_claims", None)]


def test_with_eager_celery_each_claim_job_runs_its_own_task(monkeypatch, settings):
    ran = []
    monkeypatch.setattr("gifts.tasks.slot_hand_over", lambda *, slot_id: ran.append(slot_id) or True)

    jobs.publish(claim_job(7))

    assert ran == [7]
