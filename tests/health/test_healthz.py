"""/healthz: what a load balancer and a monitor read. 200 with every check when Relay is
healthy, 503 naming the check that is not, quickly even with the broker down, and nothing in
it that a stranger on the network should learn."""

import json
import socket
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from apps.health import checks
from apps.health.services import record_heartbeat
from apps.health.tasks import heartbeat
from apps.notifications.models import EmailStatus
from apps.tasks.models import State

pytestmark = pytest.mark.django_db

UNREACHABLE = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


def failing(response) -> dict:
    return {name: c for name, c in response.json()["checks"].items() if not c["ok"]}


def test_a_healthy_relay_answers_200_with_every_check(healthz):
    response = healthz()
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["status"] == "ok"
    assert list(body["checks"]) == ["database", "broker", "worker", "outbox", "stranded_runs"]
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["broker"]["mode"] == "eager"  # no broker configured in the tests
    assert body["checks"]["database"]["ms"] >= 0


def test_it_needs_no_login_and_sets_no_cookie(healthz, client):
    response = healthz()
    assert response.status_code == 200
    assert not response.cookies
    assert client.head("/healthz").status_code == 200  # some balancers probe with HEAD
    assert client.post("/healthz").status_code == 405


def test_its_queries_do_not_grow_with_the_data(healthz, undelivered, automated_step):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            healthz()
        return len(captured)

    healthz()  # content types cached, as in a running process
    empty = queries()
    for minutes in range(1, 21):
        undelivered(timedelta(minutes=minutes))
    for hours in range(1, 6):
        automated_step(timedelta(hours=hours), title=f"lost {hours}")
    assert queries() == empty + 1  # + the oldest stranded run's id, now that there is one
    # A read per check; on PostgreSQL each in a transaction with its statement timeout.
    assert empty <= (4 if connection.vendor == "sqlite" else 12)


def test_it_is_not_redirected_to_https(healthz, client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/login/").status_code == 301  # every page is
    assert healthz().status_code == 200  # but a load balancer probes over plain HTTP


@pytest.mark.parametrize(("minutes", "status"), [(1, 200), (16, 503)])
def test_an_old_undelivered_notification_fails_the_outbox_check(
    healthz, undelivered, minutes, status
):
    undelivered(timedelta(minutes=minutes))
    response = healthz()
    assert response.status_code == status
    outbox = response.json()["checks"]["outbox"]
    assert outbox["oldest_age_s"] >= minutes * 60
    if status == 503:
        assert set(failing(response)) == {"outbox"}
        assert outbox["error"].startswith("The oldest undelivered notification is 9")
        assert "(limit 900 s)" in outbox["error"]


def test_a_row_a_worker_claimed_and_never_finished_counts_as_undelivered(healthz, undelivered):
    undelivered(timedelta(hours=2), status=EmailStatus.SENDING)
    assert set(failing(healthz())) == {"outbox"}


def test_sent_and_inbox_only_rows_are_not_waiting(healthz, undelivered):
    for status in (EmailStatus.SENT, EmailStatus.SKIPPED, EmailStatus.FAILED, EmailStatus.DIGEST):
        undelivered(timedelta(days=3), status=status)
    assert healthz().status_code == 200


def test_a_stranded_automated_step_answers_503_with_its_run(healthz, automated_step, settings):
    settings.RELAY_ACTION_TIMEOUT = 300
    automated_step(timedelta(minutes=3), title="recent")  # its action may still be running
    stranded = automated_step(timedelta(minutes=7), title="lost")
    response = healthz()
    assert response.status_code == 503
    assert set(failing(response)) == {"stranded_runs"}
    check = response.json()["checks"]["stranded_runs"]
    assert check["count"] == 1
    assert check["oldest_run_id"] == stranded.run_id
    assert check["timeout_s"] == 360  # the action's time limit and a minute of grace
    assert 415 < check["oldest_age_s"] < 430


def test_an_automated_step_within_its_timeout_is_not_stranded(healthz, automated_step):
    automated_step(timedelta(minutes=5))
    assert healthz().status_code == 200


def test_a_finished_or_cancelled_run_strands_nothing(healthz, automated_step, lead):
    from apps.workflows import services as workflow_services

    task = automated_step(timedelta(hours=1))
    workflow_services.cancel_run(run=task.run, by=lead, note="not needed")
    task.refresh_from_db()
    assert task.state == State.CANCELLED
    assert healthz().status_code == 200


def test_the_heartbeat_is_not_needed_in_eager_mode(healthz):
    worker = healthz().json()["checks"]["worker"]
    assert worker["ok"] and worker["mode"] == "eager"


@pytest.mark.parametrize(
    ("beat_ago", "status"), [(None, 503), (timedelta(minutes=5), 503), (timedelta(seconds=20), 200)]
)
def test_with_a_broker_a_stale_or_missing_heartbeat_answers_503(
    healthz, with_broker, beat_ago, status
):
    from django.utils import timezone

    with_broker(UNREACHABLE)
    if beat_ago is not None:
        record_heartbeat(at=timezone.now() - beat_ago)
    response = healthz("?checks=worker")
    assert response.status_code == status
    worker = response.json()["checks"]["worker"]
    assert worker["max_age_s"] == 120
    if status == 503:
        assert "are a worker and beat running?" in worker["error"]


def test_the_heartbeat_task_makes_the_worker_check_pass(healthz, with_broker):
    with_broker(UNREACHABLE)
    assert healthz("?checks=worker").status_code == 503
    heartbeat.apply()  # what a worker does with the beat's message
    response = healthz("?checks=worker")
    assert response.status_code == 200
    assert response.json()["checks"]["worker"]["age_s"] < 5


def test_an_unreachable_broker_answers_503_at_once(healthz, with_broker):
    with_broker(UNREACHABLE)
    started = time.monotonic()
    response = healthz()
    assert time.monotonic() - started < 1.5
    assert response.status_code == 503
    broker = response.json()["checks"]["broker"]
    assert broker == {
        "ok": False,
        "ms": broker["ms"],
        "error": "The broker is unreachable (OperationalError).",
    }


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections (the kernel's backlog) and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


@pytest.mark.parametrize("scheme", ["redis://127.0.0.1:{port}/0", "amqp://u:p@127.0.0.1:{port}//"])
def test_a_broker_that_never_answers_fails_within_the_timeout(
    healthz, with_broker, silent_server, scheme
):
    with_broker(scheme.format(port=silent_server))
    started = time.monotonic()
    response = healthz("?checks=database,broker")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert set(failing(response)) == {"broker"}
    assert 0.9 < elapsed < 1.5  # RELAY_HEALTH_BROKER_TIMEOUT is 1 s


def test_nothing_in_it_names_a_host_or_a_password(healthz, with_broker, monkeypatch):
    with_broker("redis://:s3cret-broker-pw@127.0.0.1:1/0")

    def database_down():
        raise OperationalError(
            'connection to server at "db.internal.example" (10.1.2.3), port 5432 failed: '
            'FATAL: password authentication failed for user "relay"'
        )

    monkeypatch.setitem(checks.CHECK_FUNCTIONS, "database", database_down)
    response = healthz()
    text = response.content.decode()
    assert response.status_code == 503
    for secret in ("s3cret", "127.0.0.1", "db.internal", "10.1.2.3", 'relay\\"', "password"):
        assert secret not in text, secret
    assert str(connection.settings_dict["NAME"]) not in text
    body = json.loads(text)["checks"]
    assert body["database"]["error"] == "The database check failed (OperationalError)."
    # What needs the database is not asked (each would wait for it again).
    for name in ("worker", "outbox", "stranded_runs"):
        assert body[name] == {
            "ok": False,
            "ms": 0.0,
            "error": "Not checked: the database is unreachable.",
        }


def test_a_subset_of_checks_can_be_asked_for(healthz, undelivered):
    undelivered(timedelta(hours=1))
    response = healthz("?checks=database,broker")
    assert response.status_code == 200  # the outbox is not asked about
    assert list(response.json()["checks"]) == ["database", "broker"]
    assert list(healthz("?checks=broker&checks=database").json()["checks"]) == [
        "database",
        "broker",
    ]


@pytest.mark.parametrize("query", ["?checks=disk", "?checks=", "?checks=database,disk"])
def test_an_unknown_check_is_a_400_listing_the_checks(healthz, query):
    response = healthz(query)
    assert response.status_code == 400
    assert response.json()["checks"] == list(checks.CHECKS)
    assert response["Cache-Control"] == "no-store"
