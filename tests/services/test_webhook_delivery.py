"""Webhook deliveries on the real services: PostgreSQL, Redis as the broker, a Celery worker
process, and a local HTTP receiver in this process."""

import pytest
from django.db import transaction

from apps.hooks import sending
from apps.hooks.models import Delivery, Event, Status, Webhook
from apps.hooks.services import emit_event

from ..concurrency import run_together
from ..factories import TeamFactory
from ..hooks.conftest import Receiver
from .notification_harness import Worker, database_url, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver():
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def hook(receiver, settings):
    settings.RELAY_WEBHOOKS_ALLOW_PRIVATE = True
    team = TeamFactory(name="Data Science", slug="data-science")
    webhook = Webhook.objects.create(team=team, url=receiver.url, events=[str(e) for e in Event])
    receiver.secret = webhook.secret
    return webhook


@pytest.fixture
def worker(transactional_db, broker):
    worker = Worker(
        database_url=database_url(),
        broker_url=broker,
        smtp_port=1,
        extra_env={
            "RELAY_WEBHOOKS_ALLOW_PRIVATE": "1",
            "RELAY_WEBHOOKS_RETRY_BACKOFF": "0.5",
            "RELAY_WEBHOOKS_MAX_ATTEMPTS": "4",
        },
    )
    try:
        yield worker
    finally:
        worker.close()


def test_a_worker_retries_a_failing_receiver_with_backoff_until_it_answers_2xx(
    hook, receiver, worker
):
    receiver.answers = [(503, {}), (500, {})]
    with transaction.atomic():
        [delivery] = emit_event(team=hook.team, event=Event.RUN_STARTED, payload={"run": {"id": 1}})
    wait_for(
        lambda: Delivery.objects.get(pk=delivery.pk).status == Status.SENT,
        timeout=60,
        message=f"not sent; worker said:\n{worker.output()}",
    )
    delivery.refresh_from_db()
    assert delivery.attempts == 3
    assert len(receiver.received) == 3
    assert {r.headers["X-Relay-Delivery"] for r in receiver.received} == {str(delivery.delivery_id)}
    assert all(r.signature_ok for r in receiver.received)
    assert len({r.body for r in receiver.received}) == 1
    assert (delivery.last_status_code, delivery.last_error) == (200, "")


def test_two_workers_handed_the_same_delivery_at_once_send_it_once(hook, receiver, broker):
    with transaction.atomic():  # its message waits in Redis: no worker is running
        [delivery] = emit_event(team=hook.team, event=Event.RUN_STARTED, payload={})
    results = run_together(*[lambda: sending.deliver(ids=[delivery.pk])] * 4)
    assert sorted(r[1]["sent"] for r in results) == [0, 0, 0, 1]
    assert len(receiver.received) == 1
    assert Delivery.objects.get(pk=delivery.pk).attempts == 1
