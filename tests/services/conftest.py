"""Fixtures the service tests share: a clean Redis database as the broker, an SMTP sink."""

import pytest

from .notification_harness import flush_redis, publishing_to, redis_url, smtp_sink


@pytest.fixture
def broker():
    """Redis (database 3 unless NOTIFICATIONS_TEST_REDIS_URL says otherwise), empty before and
    after, as the broker the test process publishes to."""
    url = redis_url()
    flush_redis(url)
    with publishing_to(url):
        yield url
    flush_redis(url)


@pytest.fixture
def sink():
    """An SMTP server in a thread that records what it accepted; `.port` is where it listens."""
    with smtp_sink() as (handler, port):
        handler.port = port
        yield handler
