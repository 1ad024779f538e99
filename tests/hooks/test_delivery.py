"""Sending deliveries to a real local receiver: signed, retried, never lost, never doubled."""

import time
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.core.refusals import Refused
from apps.hooks import sending
from apps.hooks.conf import conf
from apps.hooks.models import Delivery, Event, Status
from apps.hooks.services import emit_event, redeliver
from apps.tasks import services as task_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def emit(django_capture_on_commit_callbacks):
    """emit_event inside a transaction that commits (so the send runs, eagerly)."""

    def emit(team, event=Event.RUN_STARTED, payload=None):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            return emit_event(team=team, event=event, payload=payload or {"run": {"id": 7}})

    return emit


def test_a_delivery_is_posted_signed_and_the_receiver_verifies_the_signature(
    team, hook, receiver, emit
):
    [delivery] = emit(team, payload={"run": {"id": 7, "title": "churn"}})
    [got] = receiver.received
    assert got.signature_ok
    assert got.path == "/relay-hook"
    assert got.headers["X-Relay-Event"] == "run.started"
    assert got.headers["X-Relay-Delivery"] == str(delivery.delivery_id)
    assert abs(int(got.headers["X-Relay-Timestamp"]) - time.time()) < 60
    assert got.headers["Content-Type"] == "application/json"
    assert got.json == {
        "id": str(delivery.delivery_id),
        "event": "run.started",
        "created_at": delivery.created_at.isoformat(),
        "team": {"id": team.pk, "slug": team.slug, "name": team.name},
        "data": {"run": {"id": 7, "title": "churn"}},
    }
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (Status.SENT, 1, 200)
    assert delivery.response_excerpt == "answered 200"


def test_a_signature_under_another_secret_does_not_verify(team, hook, receiver, emit):
    receiver.secret = "not-the-hooks-secret"
    emit(team)
    assert receiver.received[0].signature_ok is False


def test_a_rolled_back_change_emits_nothing(
    team, hook, receiver, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        emit_event(team=team, event=Event.RUN_STARTED, payload={})
        raise RuntimeError("the change failed")
    assert callbacks == []
    assert not Delivery.objects.exists()
    assert receiver.received == []


def test_a_transition_is_reported_when_its_transaction_commits(
    team, hook, receiver, task, member, lead, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        task_services.assign_to(task=task, assignee=member, by=lead)
        assert Delivery.objects.filter(event=Event.TASK_TRANSITIONED).count() == 1
        assert receiver.received == []  # written with the change, sent after the commit
    [got] = receiver.received
    data = got.json["data"]
    assert data["transition"]["name"] == "assign"
    assert (data["transition"]["from"], data["transition"]["to"]) == ("todo", "assigned")
    assert data["transition"]["by"] == {"id": lead.pk, "username": "leo", "name": lead.display_name}
    assert data["task"]["id"] == task.pk
    assert data["task"]["assignee"]["username"] == "mia"
    assert data["task"]["url"].endswith(f"/tasks/{task.pk}/")


def test_a_failed_transition_reports_nothing(team, hook, task, member):
    with pytest.raises(Refused):
        task_services.start(task=task, by=member)  # not assigned to mia: refused
    assert not Delivery.objects.exists()


def test_only_the_events_a_hook_asked_for_are_written(team, hook, emit):
    hook.events = ["run.finished"]
    hook.save()
    assert emit(team, event=Event.RUN_STARTED) == []
    assert len(emit(team, event=Event.RUN_FINISHED)) == 1


def test_an_inactive_hook_receives_nothing(team, hook, receiver, emit):
    hook.is_active = False
    hook.save()
    assert emit(team) == []
    assert receiver.received == []


def test_a_receiver_that_is_down_is_retried_with_backoff_then_gets_it_once_with_one_id(
    team, hook, receiver, emit, settings
):
    settings.RELAY_WEBHOOKS_RETRY_BACKOFF = 30
    receiver.stop()
    before = timezone.now()
    [delivery] = emit(team)
    delivery.refresh_from_db()
    assert delivery.status == Status.PENDING
    assert delivery.attempts == 1
    assert "Connection" in delivery.last_error  # ConnectionRefusedError
    assert before + timedelta(seconds=29) < delivery.next_attempt_at
    assert delivery.next_attempt_at < timezone.now() + timedelta(seconds=31)

    # Not due yet: a second message (or an eager retry) finds nothing to do.
    assert sending.deliver(ids=[delivery.pk])["skipped"] == 1
    # Due, still down: the wait doubles.
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    sending.deliver(ids=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert timedelta(seconds=59) < delivery.next_attempt_at - timezone.now()

    # Back up; the retry's message was lost with the broker: the sweep finds it.
    receiver.start()
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    assert sending.sweep_unsent() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.SENT, 3)
    [got] = receiver.received
    assert got.headers["X-Relay-Delivery"] == str(delivery.delivery_id)
    assert got.signature_ok
    assert sending.sweep_unsent() == 0  # nothing left, nothing sent again
    assert len(receiver.received) == 1


def test_after_the_last_attempt_a_delivery_is_failed_and_kept(team, hook, receiver, emit, settings):
    settings.RELAY_WEBHOOKS_MAX_ATTEMPTS = 2
    receiver.answers = [(500, {}), (503, {})]
    [delivery] = emit(team)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    sending.deliver(ids=[delivery.pk])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        Status.FAILED,
        2,
        503,
    )
    assert delivery.last_error == "The receiver answered HTTP 503."
    assert delivery.response_excerpt == "answered 503"
    assert sending.sweep_unsent() == 0
    assert len(receiver.received) == 2


def test_a_redirect_is_not_followed(team, hook, receiver, emit):
    receiver.answers = [(302, {"Location": "http://127.0.0.1:1/elsewhere"})]
    [delivery] = emit(team)
    delivery.refresh_from_db()
    assert delivery.status == Status.PENDING
    assert delivery.last_status_code == 302
    assert "redirects are not followed" in delivery.last_error
    assert [r.path for r in receiver.received] == ["/relay-hook"]


def test_a_delivery_another_worker_holds_is_not_sent_again_until_its_lease_expires(
    team, hook, receiver
):
    with transaction.atomic():  # written, but its on-commit send never ran (broker down)
        [delivery] = emit_event(team=team, event=Event.RUN_STARTED, payload={})
    assert sending.claim(delivery=delivery, token=uuid.uuid4().hex)  # worker A, then it dies
    assert sending.deliver(ids=[delivery.pk]) == {"sent": 0, "retry": 0, "failed": 0, "skipped": 1}
    assert sending.sweep_unsent() == 0
    assert receiver.received == []
    lease = conf("RELAY_WEBHOOKS_CLAIM_LEASE")
    Delivery.objects.filter(pk=delivery.pk).update(
        claimed_at=timezone.now() - timedelta(seconds=lease + 1)
    )
    assert sending.sweep_unsent() == 1
    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT


def test_the_sweeper_leaves_fresh_deliveries_to_their_own_message(team, hook, receiver):
    with transaction.atomic():
        emit_event(team=team, event=Event.RUN_STARTED, payload={})
    assert sending.sweep_unsent() == 0
    assert sending.sweep_unsent(now=timezone.now() + timedelta(minutes=5)) == 1
    assert len(receiver.received) == 1


def test_redeliver_sends_the_same_delivery_id_again(
    team, hook, receiver, emit, lead, django_capture_on_commit_callbacks
):
    [delivery] = emit(team)
    with django_capture_on_commit_callbacks(execute=True):
        redeliver(delivery=delivery, by=lead)
    first, second = receiver.received
    assert first.headers["X-Relay-Delivery"] == second.headers["X-Relay-Delivery"]
    assert first.body == second.body
    assert second.signature_ok
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.SENT, 1)


def test_a_failed_delivery_can_be_redelivered_once_the_receiver_is_fixed(
    team, hook, receiver, emit, lead, settings, django_capture_on_commit_callbacks
):
    settings.RELAY_WEBHOOKS_MAX_ATTEMPTS = 1
    receiver.answers = [(500, {})]
    [delivery] = emit(team)
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        redeliver(delivery=delivery, by=lead)
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT
    assert delivery.last_status_code == 200
    assert {r.headers["X-Relay-Delivery"] for r in receiver.received} == {str(delivery.delivery_id)}


def test_a_deactivated_hooks_pending_delivery_is_not_sent(team, hook, receiver):
    with transaction.atomic():
        [delivery] = emit_event(team=team, event=Event.RUN_STARTED, payload={})
    hook.is_active = False
    hook.save()
    sending.deliver(ids=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED
    assert "deactivated" in delivery.last_error
    assert receiver.received == []
