"""A workaround for kombu 5.7.0's Redis transport (the newest release): a worker died on a broker
blip with `Unrecoverable error: AttributeError("'NoneType' object has no attribute 'hostname'")`.

When the consumer's connection drops, Celery first `collect()`s it and then `close()`s it
(celery.worker.consumer.Consumer.on_connection_error_after_connected). If closing the default
channel fails inside `collect()` (the broker is gone), `collect()` still detaches the transport
from its connection (`transport.client = None`) and leaves that channel open, its connection
pools already disconnected. `close()` then closes it again: it restores the unacknowledged
messages ("Restoring N unacknowledged message(s)"), which needs a new pool, and building one
reads `self.connection.client.hostname`: AttributeError. kombu ignores connection errors while
closing, but not that one, so it escapes Celery's handler and the worker exits 1.

Here a channel whose connection is gone says so with the connection error kombu expects from a
dead broker: the close is skipped, the consumer reconnects as on any blip. The messages that
could not be restored now stay in Redis's unacked index, from where kombu restores them after the
visibility timeout (and Relay's sweepers re-enqueue whatever they stand for sooner).
tests/services/test_broker_faults.py pins the behaviour; drop this once kombu fixes it.
"""

from kombu.transport import redis as kombu_redis

_original_connparams = kombu_redis.Channel._connparams


def _connparams(self, asynchronous=False):
    transport = self.connection
    if transport is None or transport.client is None:
        raise kombu_redis.redis.exceptions.ConnectionError(
            "This channel's broker connection is already closed."
        )
    return _original_connparams(self, asynchronous=asynchronous)


def apply() -> None:
    if kombu_redis.Channel._connparams is not _connparams:
        kombu_redis.Channel._connparams = _connparams
