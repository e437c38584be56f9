"""What the amqp:// scheme gets (giftshop/broker.py), checked on the machine's RabbitMQ."""

import pytest
from amqp.exceptions import PreconditionFailed
from kombu import Connection

from giftshop.broker import broker_settings
from giftshop.celery import app
from tests.worker.conftest import RABBITMQ_URL, publishing_to, purge_rabbitmq, queued

pytestmark = pytest.mark.worker

REDIS_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5, "max_retries": 1, "interval_start": 0}


def test_each_scheme_gets_its_broker_settings():
    amqp = broker_settings("amqp://u:p@broker:5672/shop", REDIS_OPTIONS)
    assert amqp["task_default_queue_type"] == "quorum"
    assert amqp["task_default_exchange_type"] == "topic"  # countdowns wait in RabbitMQ
    assert amqp["broker_transport_options"]["confirm_publish"] is True
    assert "socket_connect_timeout" not in amqp["broker_transport_options"]  # a Redis option
    assert amqp["control_queue_exclusive"] is False and amqp["task_publish_retry"] is True
    redis = broker_settings("redis://cache:6379/0", REDIS_OPTIONS)
    assert redis["broker_transport"] == "giftshop.broker:Transport"
    assert redis["task_default_queue_type"] == "classic" and redis["task_publish_retry"] is False


def test_the_task_queue_on_rabbitmq_is_a_quorum_queue_and_keeps_what_was_published():
    purge_rabbitmq(RABBITMQ_URL)
    try:
        with publishing_to(RABBITMQ_URL):
            app.send_task("outbox.tasks.publish_due_jobs")  # confirmed by RabbitMQ before it returns
        assert queued(RABBITMQ_URL) == 1
        with Connection(RABBITMQ_URL, connect_timeout=5) as conn:
            # Declaring it again as a classic queue is refused: it exists, and is a quorum queue.
            with pytest.raises(PreconditionFailed, match="x-queue-type"):
                conn.channel().queue_declare(
                    queue="celery", durable=True, auto_delete=False, arguments={"x-queue-type": "classic"}
                )
    finally:
        purge_rabbitmq(RABBITMQ_URL)
