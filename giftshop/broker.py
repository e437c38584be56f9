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
