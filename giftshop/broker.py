"""kombu's Redis transport with one guard, so a worker survives its broker going away.

kombu 5.7 (the newest) has a bug of a long-known kind (celery/kombu#582, #970): when Redis goes
away, Celery's consumer tears the dead connection down twice (`Connection.collect()`, then
`Connection.close()`). The first pass fails on the pending BRPOP before the channel is marked
closed, and the connection detaches its transport; the second pass tries to put the worker's
unacknowledged messages back (a task running with acks_late, or one waiting for its countdown),
which reads the host from the detached transport: `AttributeError: 'NoneType' object has no
attribute 'hostname'`. That is not a connection error, so it escapes the reconnect logic and the
worker exits ("Unrecoverable error"). Here a channel of a closed connection says so with the
connection error kombu and Celery already handle: they ignore it while tearing down and reconnect.
Drop this module once kombu fixes it (tests/worker/test_broker_outage.py shows when).
"""

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        if self.connection.client is None:  # the transport was detached from a dead connection
            raise RedisConnectionError("channel of a closed broker connection")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel


AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")


def broker_settings(url: str, transport_options: dict) -> dict:
    """Celery's broker settings for CELERY_BROKER_URL's scheme (lower-case names, without CELERY_).

    RabbitMQ (amqp://), the recommended broker: the task queue is a quorum queue (replicated
    and written to disk on every node of a RabbitMQ cluster; on one node still kept on disk), each
    publish waits for RabbitMQ's confirm (publisher confirms: a task the web handed over is on
    disk, or the publish fails and its outbox job stays due), and the default exchange is a topic
    exchange, so a countdown (outbox retries, the sandbox's delays) waits in RabbitMQ's delayed
    queues instead of in a worker's memory (Celery's native delayed delivery; quorum queues have
    no global prefetch for the old way). Redis: the guarded transport above; run it with
    `appendonly yes` so a restart keeps what was queued (the outbox covers what it loses anyway).
    acks_late and reject_on_worker_lost hold for both (base settings).
    """
    if url.startswith(AMQP_SCHEMES):
        options = {key: value for key, value in transport_options.items() if key in ("max_retries", "interval_start")}
        return {
            "broker_transport": None,
            "task_default_queue_type": "quorum",
            "task_default_exchange_type": "topic",
            # A worker cut off from RabbitMQ reconnects while the broker may still count its old
            # connection alive: an exclusive control queue (Celery's default) would be locked by
            # that ghost and the worker exit ("RESOURCE_LOCKED"), as the cluster drill showed.
            "control_queue_exclusive": False,
            # Heartbeats every 10 s: a connection that died with its host is closed by RabbitMQ
            # within about 30 s, and the tasks it held unacknowledged go back to the queue.
            "broker_heartbeat": 10,
            # One immediate publish retry, which also replaces a dead connection: without it a
            # producer that outlived its connection (beat's, after the broker was cut off) fails
            # every publish from then on (celery/celery#3409), and the outbox is never swept again.
            "task_publish_retry": True,
            "task_publish_retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0},
            "broker_transport_options": {
                **options,
                "confirm_publish": True,
                # A publish waits at most this long for RabbitMQ's confirm or a socket to answer;
                # then it fails and the outbox publishes the job again later.
                "read_timeout": transport_options.get("socket_timeout", 5),
                "write_timeout": transport_options.get("socket_timeout", 5),
            },
        }
    if url.startswith(("redis://", "rediss://")):
        return {
            "broker_transport": "giftshop.broker:Transport",
            "task_default_queue_type": "classic",
            "task_default_exchange_type": "direct",
            "control_queue_exclusive": True,
            "broker_heartbeat": 120,
            "task_publish_retry": False,
            "broker_transport_options": dict(transport_options),
        }
    return {
        "broker_transport": None,
        "task_default_queue_type": "classic",
        "task_default_exchange_type": "direct",
        "control_queue_exclusive": True,
        "broker_heartbeat": 120,
        "task_publish_retry": False,
        "broker_transport_options": dict(transport_options),
    }
