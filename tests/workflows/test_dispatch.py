"""Automated steps are never lost nor run twice with effect: a broker that is down when a run
reaches one, a message delivered twice, a worker that died mid-action, a step that never gets
a result. The broker is faked at `run_automated_step.apply_async` (what every enqueue calls);
calling `run_automated_step(pk)` is a worker receiving the message."""

from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from apps.notifications.models import Kind, Notification
from apps.tasks import services as task_services
from apps.tasks.models import State, Task
from apps.workflows import actions, services
from apps.workflows.models import Deployment, Run, RunStatus, StepDispatch, StepKind
from apps.workflows.tasks import run_automated_step

from ..boards.conftest import htmx
from .conftest import GOOD_INPUTS
from .helpers import finish, open_task

BROKER_DOWN = OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def broker_down():
    return mock.patch.object(run_automated_step, "apply_async", side_effect=BROKER_DOWN)


def message_lost():
    """The broker took the message and lost it (or no worker ever got to it)."""
    return mock.patch.object(run_automated_step, "apply_async")


@pytest.fixture
def ml_template(ml_automated_template):
    """These tests exercise automated steps: staging runs its registered action here."""
    return ml_automated_template


@pytest.fixture
def run(ml_template, lead, trainer, ml_reviewer):
    return services.start_run(
        template=ml_template, title="churn-v3", owner=lead, by=lead, inputs=GOOD_INPUTS
    )


def into_staging(run, capture) -> Task:
    """Train, evaluate and approve; the staging step's message is lost."""
    finish(run, "train")
    finish(run, "evaluate", "passed")
    with message_lost(), capture(execute=True):
        finish(run, "review", "approved")
    return open_task(run, "staging")


def into_deploy(run, capture) -> Task:
    """As into_staging, then a worker runs staging; the deploy step's message is lost."""
    staging = into_staging(run, capture)
    with message_lost(), capture(execute=True):
        assert run_automated_step(staging.pk) == "passed"
    return open_task(run, "deploy")


def lease_runs_out(task):
    StepDispatch.objects.filter(task=task).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )


@pytest.mark.django_db(transaction=True)
def test_a_lead_approving_from_the_drawer_with_the_broker_down_gets_200_and_the_sweep_runs_the_step(
    client, run, lead, settings
):
    finish(run, "train")
    finish(run, "evaluate", "passed")
    review = open_task(run, "review")
    client.force_login(lead)
    client.raise_request_exception = False  # a 500 is an answer here, not a test error
    with broker_down():
        response = htmx(
            client,
            "post",
            reverse("boards:move", args=[review.pk]),
            {"action": "approve", "ctx": "drawer", "expected_state": review.state},
        )
    assert response.status_code == 200
    review.refresh_from_db()
    assert (review.state, review.outcome) == (State.DONE, "approved")
    staging = open_task(run, "staging")
    assert staging.state == State.IN_PROGRESS
    assert StepDispatch.objects.get(task=staging).finished_at is None  # waiting, not lost

    settings.RELAY_STEP_SWEEP_GRACE = 0  # the broker is back; a minute has passed
    assert services.sweep_dispatches()["enqueued"] == 1
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert Deployment.objects.filter(run=run).count() == 1


def test_a_step_enqueued_a_moment_ago_is_left_to_its_message(
    run, settings, django_capture_on_commit_callbacks
):
    staging = into_staging(run, django_capture_on_commit_callbacks)
    with message_lost() as broker:
        assert services.sweep_dispatches()["enqueued"] == 0
    assert not broker.called
    assert open_task(run, "staging") == staging


_calls: list = []


def deploy_and_redeliver(*, run, task, key=None):
    """deploy_model, during whose first run the broker delivers the same message again."""
    _calls.append(key)
    if len(_calls) == 1:
        run_automated_step(task.pk)
    return actions.deploy_model(run=run, task=task, key=key)


def test_a_message_delivered_twice_runs_the_action_once(
    run, ml_template, settings, django_capture_on_commit_callbacks
):
    path = f"{__name__}.deploy_and_redeliver"
    settings.RELAY_ACTIONS = [*settings.RELAY_ACTIONS, path]
    ml_template.steps.filter(key="deploy").update(action=path)
    _calls.clear()
    deploy = into_deploy(run, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert run_automated_step(deploy.pk) == "passed"
    assert _calls == [f"automated:task:{deploy.pk}"]
    assert Deployment.objects.filter(run=run).count() == 1
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED


def deploy_while_put_on_hold(*, run, task, key=None):
    """deploy_model, during whose first run the run's owner puts the step on hold."""
    _calls.append(key)
    if len(_calls) == 1:
        task_services.hold(task=Task.objects.get(pk=task.pk), by=run.owner)
    return actions.deploy_model(run=run, task=task, key=key)


def test_a_step_put_on_hold_while_its_action_ran_runs_again_with_its_key_once_resumed(
    run, lead, ml_template, settings, django_capture_on_commit_callbacks
):
    path = f"{__name__}.deploy_while_put_on_hold"
    settings.RELAY_ACTIONS = [*settings.RELAY_ACTIONS, path]
    ml_template.steps.filter(key="deploy").update(action=path)
    _calls.clear()
    deploy = into_deploy(run, django_capture_on_commit_callbacks)
    assert run_automated_step(deploy.pk) == "passed"  # the action's result, dropped
    deploy.refresh_from_db()
    assert deploy.state == State.ON_HOLD
    task_services.resume(task=deploy, by=lead)
    settings.RELAY_STEP_SWEEP_GRACE = 0
    with django_capture_on_commit_callbacks(execute=True):
        assert services.sweep_dispatches()["enqueued"] == 1
    assert _calls == [f"automated:task:{deploy.pk}"] * 2
    assert Deployment.objects.filter(run=run).count() == 1
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED


def test_a_step_whose_worker_died_mid_action_runs_again_with_its_key_and_deploys_once(
    run, settings, django_capture_on_commit_callbacks
):
    deploy = into_deploy(run, django_capture_on_commit_callbacks)
    # A worker claims the step, deploys, and dies before recording the result.
    dispatch = services.claim_dispatch(task=deploy, token="worker-1")
    actions.deploy_model(run=run, task=deploy, key=dispatch.key)
    # Celery redelivers the message while that worker's claim still holds: nothing happens.
    assert run_automated_step(deploy.pk) == "skipped"
    lease_runs_out(deploy)
    settings.RELAY_STEP_SWEEP_GRACE = 0
    with django_capture_on_commit_callbacks(execute=True):
        assert services.sweep_dispatches()["enqueued"] == 1
    deploy.refresh_from_db()
    assert (deploy.state, deploy.outcome) == (State.DONE, "passed")
    assert Deployment.objects.filter(run=run).count() == 1
    assert StepDispatch.objects.get(task=deploy).attempts == 2
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED


def test_a_step_out_of_attempts_fails_with_the_reason_and_the_run_routes_on(
    run, lead, settings, django_capture_on_commit_callbacks
):
    settings.RELAY_STEP_MAX_ATTEMPTS = 2
    staging = into_staging(run, django_capture_on_commit_callbacks)
    for worker in ("worker-1", "worker-2"):  # each claims it and dies
        assert services.claim_dispatch(task=staging, token=worker) is not None
        lease_runs_out(staging)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.sweep_dispatches() == {
            "closed": 0,
            "failed": 1,
            "enqueued": 0,
            "timed_out": 0,
        }
    staging.refresh_from_db()
    assert (staging.state, staging.outcome) == (State.DONE, "failed")
    assert staging.automation_error == (
        "The automated step could not be run after 2 attempts: the worker running it stopped "
        "before it recorded a result."
    )
    assert open_task(run, "train").iteration == 2  # routed as a failure: back to train
    alert = Notification.objects.get(kind=Kind.RUN_FAILED, recipient=lead, task=staging)
    assert alert.payload["outcome"] == "failed"


def test_seed_demo_with_the_broker_down_succeeds_and_a_sweep_finishes_its_automated_steps(
    db, settings, django_capture_on_commit_callbacks
):
    out = StringIO()
    with broker_down(), django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=out)
    # sentiment-v3's deploy (its staging tests were reported passed by the demo's CI).
    assert "1 automated step(s) of the demo runs will run when a worker takes them" in (
        out.getvalue()
    )
    in_progress = Task.objects.filter(step__kind=StepKind.AUTOMATED, state=State.IN_PROGRESS)
    assert in_progress.count() == 1

    settings.RELAY_STEP_SWEEP_GRACE = 0
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("sweep", stdout=out)
    assert "Automated steps: 1 enqueued" in out.getvalue()
    assert not in_progress.exists()
    assert Run.objects.get(title="sentiment-v3").status == RunStatus.COMPLETED


def test_a_lost_step_of_a_run_cancelled_since_is_closed_and_never_runs(
    run, lead, settings, django_capture_on_commit_callbacks
):
    deploy = into_deploy(run, django_capture_on_commit_callbacks)
    services.cancel_run(run=run, by=lead, note="Wrong model.")
    settings.RELAY_STEP_SWEEP_GRACE = 0
    with message_lost() as broker:
        assert services.sweep_dispatches() == {
            "closed": 1,
            "failed": 0,
            "enqueued": 0,
            "timed_out": 0,
        }
    assert not broker.called
    assert run_automated_step(deploy.pk) == "skipped"  # a message still in some queue
    assert not Deployment.objects.filter(run=run).exists()
