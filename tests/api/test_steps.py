"""POST /api/v1/steps/<task>/result: a CI job reports the ML run's staging tests.

Authenticated by a service token of the task's team or by the task's one-time callback token
(from the step.waiting webhook); everyone else learns nothing or is refused with a sentence.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.hooks.models import Delivery, Webhook
from apps.notifications.models import Kind, Notification
from apps.tasks.models import State, Task
from apps.workflows import services
from apps.workflows.models import RunStatus

from ..factories import TeamFactory
from ..workflows.conftest import GOOD_INPUTS
from ..workflows.helpers import finish, open_task
from .conftest import personal_token_for_tests, service_token_for_tests

ROOT = Path(__file__).resolve().parents[2]
LINK = "https://ci.example.com/jobs/7"


@pytest.fixture
def staging(ml_template, lead):
    run = services.start_run(
        template=ml_template, title="churn-v3", owner=lead, by=lead, inputs=GOOD_INPUTS
    )
    finish(run, "train")
    finish(run, "evaluate", "passed")
    finish(run, "review", "approved")
    return open_task(run, "staging")


def result_of(task) -> str:
    return f"/steps/{task.pk}/result"


def test_a_service_token_reports_passed_and_the_run_moves_on(
    api, staging, team, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.as_token(service_token_for_tests(team)).post(
            result_of(staging), {"outcome": "passed", "message": "All green.", "link": LINK}
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["task"], body["step"], body["outcome"]) == (staging.pk, "staging", "passed")
    assert body["reported_by"] == "CI (service token) for Data Science"
    staging.run.refresh_from_db()
    assert staging.run.status == RunStatus.COMPLETED


def test_the_same_report_twice_answers_the_same_and_a_different_one_is_409(api, staging, team):
    api.as_token(service_token_for_tests(team))
    first = api.post(result_of(staging), {"outcome": "failed", "message": "Red.", "link": LINK})
    again = api.post(result_of(staging), {"outcome": "failed", "message": "Red.", "link": LINK})
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    # One alert (the owner is also the lead), not one per report.
    assert Notification.objects.filter(kind=Kind.RUN_FAILED, task=staging).count() == 1
    other = api.post(result_of(staging), {"outcome": "passed"})
    assert other.status_code == 409
    assert "already reported failed" in other.json()["detail"]


def test_the_callback_token_from_the_webhook_reports_once(api, ml_template, lead, team):
    Webhook.objects.create(team=team, url="https://ci.example.com/hook", events=["step.waiting"])
    run = services.start_run(
        template=ml_template, title="churn-v3", owner=lead, by=lead, inputs=GOOD_INPUTS
    )
    finish(run, "train")
    finish(run, "evaluate", "passed")
    finish(run, "review", "approved")
    staging = open_task(run, "staging")
    token = Delivery.objects.get(event="step.waiting").payload["data"]["callback_token"]
    api.as_token(token)
    response = api.post(result_of(staging), {"outcome": "failed", "message": "Red."})
    assert response.status_code == 200
    assert open_task(run, "train").iteration == 2
    reused = api.post(result_of(staging), {"outcome": "failed", "message": "Red."})
    assert reused.status_code == 401
    assert "already used" in reused.json()["detail"]


@pytest.mark.parametrize(
    ("who", "status", "says"),
    [
        ("other team's service token", 404, "No task"),
        ("read-only service token", 403, "read-only"),
        ("member's personal token", 403, "service token"),
        ("outsider's personal token", 404, "No task"),
        ("made-up callback token", 401, "not the one"),
        ("no token", 401, "token"),
    ],
)
def test_who_may_not_report_is_refused_and_nothing_changes(
    api, staging, team, member, outsider, who, status, says
):
    secret = {
        "other team's service token": lambda: service_token_for_tests(TeamFactory(slug="else")),
        "read-only service token": lambda: service_token_for_tests(team, scope="read"),
        "member's personal token": lambda: personal_token_for_tests(member),
        "outsider's personal token": lambda: personal_token_for_tests(outsider),
        "made-up callback token": lambda: "rcb_" + "x" * 43,
        "no token": lambda: None,
    }[who]()
    if secret:
        api.as_token(secret)
    response = api.post(result_of(staging), {"outcome": "passed"})
    assert response.status_code == status, response.content
    assert says in response.json()["detail"]
    staging.refresh_from_db()
    assert staging.state == State.IN_PROGRESS


def test_a_task_that_does_not_exist_is_404(api, team, db):
    response = api.as_token(service_token_for_tests(team)).post(
        "/steps/999999/result", {"outcome": "passed"}
    )
    assert response.status_code == 404
    assert "No task 999999" in response.json()["detail"]


def test_an_unknown_outcome_is_422_with_a_sentence(api, staging, team):
    response = api.as_token(service_token_for_tests(team)).post(
        result_of(staging), {"outcome": "green"}
    )
    assert response.status_code == 422
    assert "'passed' or 'failed'" in response.json()["detail"]


def _script(live_server, token, *args):
    env = {**os.environ, "RELAY_URL": live_server.url, "RELAY_TOKEN": token}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "report-step"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.django_db(transaction=True)
def test_the_ci_script_reports_a_result_to_a_live_server(live_server, staging, team):
    token = service_token_for_tests(team)
    done = _script(live_server, token, str(staging.pk), "failed", "2 tests failed.", LINK)
    assert done.returncode == 0, done.stderr
    assert f"Task {staging.pk} (staging) reported failed." in done.stdout
    staging.refresh_from_db()
    assert (staging.state, staging.outcome) == (State.DONE, "failed")
    assert Task.objects.filter(run=staging.run, step__key="train").count() == 2
    refused = _script(live_server, token, str(staging.pk), "passed", "now green")
    assert refused.returncode == 1
    assert "(409)" in refused.stderr and "already reported failed" in refused.stderr


@pytest.mark.parametrize("action", ["complete", "submit"])
def test_a_service_token_cannot_finish_the_step_through_the_transitions(api, staging, team, action):
    api.as_token(service_token_for_tests(team))
    response = api.post(f"/tasks/{staging.pk}/transitions", {"action": action, "outcome": "passed"})
    assert response.status_code == 409, response.content
    assert response.json()["detail"] == (
        "This step waits for CI's report: it is finished by "
        f"POST /api/v1/steps/{staging.pk}/result."
    )
    staging.refresh_from_db()
    assert (staging.state, staging.outcome) == (State.IN_PROGRESS, "")
    assert staging.dispatch.finished_at is None
    # Nor is it offered: the task's actions for the token leave it out.
    assert action not in api.get(f"/tasks/{staging.pk}").json()["actions"]
    # The report, the one way in, still finishes it.
    reported = api.post(result_of(staging), {"outcome": "passed", "message": "All green."})
    assert reported.status_code == 200, reported.content


def test_a_leads_token_settles_the_step_by_hand_and_a_later_report_is_409(api, staging, lead, team):
    api.as_token(personal_token_for_tests(lead))
    response = api.post(
        f"/tasks/{staging.pk}/transitions",
        {"action": "complete", "outcome": "failed", "note": "CI is down."},
    )
    assert response.status_code == 200, response.content
    assert open_task(staging.run, "train").iteration == 2
    api.as_token(service_token_for_tests(team))
    late = api.post(result_of(staging), {"outcome": "failed"})
    assert late.status_code == 409
    assert "settled by hand" in late.json()["detail"]
