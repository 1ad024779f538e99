"""/healthz on the real services: Redis as the broker, a real Celery worker stamping the
heartbeat, and PostgreSQL cutting a slow check short."""

import time

import pytest
from django.db import connection

from apps.health import checks
from apps.health.selectors import last_heartbeat
from apps.health.tasks import heartbeat

from .notification_harness import (
    Worker,
    database_url,
    free_port,
    wait_for,
)


@pytest.mark.redis
@pytest.mark.django_db
def test_with_redis_up_the_broker_check_passes(client, broker):
    response = client.get("/healthz?checks=database,broker")
    assert response.status_code == 200
    check = response.json()["checks"]["broker"]
    assert check["ok"] and "mode" not in check
    assert check["ms"] < 1000


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_of_a_real_worker_makes_relay_healthy(client, broker):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"]["error"].startswith("No worker heartbeat yet")

    worker = Worker(database_url=database_url(), broker_url=broker, smtp_port=free_port())
    try:
        heartbeat.delay()  # what beat sends every 30 s
        wait_for(
            lambda: last_heartbeat() is not None,
            timeout=60,
            message=f"no heartbeat from the worker:\n{worker.output()}",
        )
    finally:
        worker.close()
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["worker"]["age_s"] < 60


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_slow_query_is_cut_short_and_leaves_the_connection_as_it_was(client, monkeypatch):
    def slow_outbox():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(5)")

    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        [before] = cursor.fetchone()
    monkeypatch.setattr(checks, "oldest_undelivered_at", slow_outbox)
    started = time.monotonic()
    response = client.get("/healthz")
    assert time.monotonic() - started < 2
    assert response.status_code == 503
    outbox = response.json()["checks"]["outbox"]
    assert outbox["error"] == "The outbox check failed (OperationalError)."
    assert response.json()["checks"]["stranded_runs"]["ok"]  # the next check still ran
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == (before,)
