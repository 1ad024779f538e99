"""External steps: the ML template's staging tests wait for CI, which reports passed or failed.

Through the services (the API's own tests are in tests/api/test_steps.py): entering the step
hands the task to Relay automation and announces it with a one-time callback token; a report
routes the run as a person's outcome would; a repeat is recognised; silence past the SLA fails.
"""

import copy
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_fsm_log.models import StateLog

from apps.hooks.models import Delivery, Webhook
from apps.notifications.models import Kind, Notification
from apps.people.system import automation_user
from apps.tasks import services as task_services
from apps.tasks.models import State, Task
from apps.workflows import definitions, exchange, services
from apps.workflows.diagram import render
from apps.workflows.models import DispatchKind, RunStatus, StepDispatch
from apps.workflows.tasks import run_automated_step

from ..factories import TeamFactory
from .conftest import GOOD_INPUTS
from .helpers import finish, open_task

LINK = "https://ci.example.com/jobs/42"


@pytest.fixture
def run(ml_template, lead):
    return services.start_run(
        template=ml_template, title="churn-v3", owner=lead, by=lead, inputs=GOOD_INPUTS
    )


def into_staging(run) -> Task:
    finish(run, "train")
    finish(run, "evaluate", "passed")
    finish(run, "review", "approved")
    return open_task(run, "staging")


def report(task, outcome, message="", link="", caller=None):
    return services.report_external_result(
        task=task,
        outcome=outcome,
        message=message,
        link=link,
        caller=caller or services.TeamCaller(team=task.team),
    )


def test_entering_an_external_step_waits_for_its_system_held_by_automation(run, team):
    Webhook.objects.create(team=team, url="https://ci.example.com/hook", events=["step.waiting"])
    staging = into_staging(run)
    assert staging.state == State.IN_PROGRESS
    assert staging.assignee == automation_user()  # nobody's work, no one's capacity
    assert staging.due_at is not None  # the step's SLA
    dispatch = StepDispatch.objects.get(task=staging)
    assert dispatch.kind == DispatchKind.EXTERNAL
    delivery = Delivery.objects.get(event="step.waiting")
    data = delivery.payload["data"]
    assert data["task"]["id"] == staging.pk
    assert data["run"]["id"] == run.pk
    assert (data["step"]["key"], data["system"]) == ("staging", "CI")
    assert data["result_url"].endswith(f"/api/v1/steps/{staging.pk}/result")
    token = data["callback_token"]
    # Stored hashed: the clear token exists only in the announcement.
    assert dispatch.callback_token_hash == services.hash_callback_token(token)
    assert token not in str(StepDispatch.objects.filter(pk=dispatch.pk).values().get())


def test_a_passed_report_moves_the_run_on_with_the_message_in_the_history(
    run, client_for, lead, django_capture_on_commit_callbacks
):
    staging = into_staging(run)
    with django_capture_on_commit_callbacks(execute=True):
        result = report(staging, "passed", "212 tests passed.", LINK)
    assert not result.repeated
    staging.refresh_from_db()
    assert (staging.state, staging.outcome) == (State.DONE, "passed")
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED  # deploy (automated) ran on commit
    note = StateLog.objects.for_(staging).get(transition="complete").description
    assert "212 tests passed." in note and LINK in note
    page = client_for(lead).get(reverse("tasks:task_detail", args=[staging.pk])).content.decode()
    assert "212 tests passed." in page
    assert f'href="{LINK}"' in page


def test_a_failed_report_loops_back_to_train_and_alerts_the_owner_with_message_and_link(run, lead):
    staging = into_staging(run)
    report(staging, "failed", "3 integration tests failed.", LINK)
    assert open_task(run, "train").iteration == 2
    alert = Notification.objects.get(kind=Kind.RUN_FAILED, recipient=run.owner, task=staging)
    assert "3 integration tests failed." in alert.payload["note"]
    assert LINK in alert.payload["note"]


def test_reporting_the_same_result_twice_changes_nothing_the_second_time(run):
    staging = into_staging(run)
    first = report(staging, "failed", "3 failed.", LINK)
    tasks, alerts = Task.objects.count(), Notification.objects.count()
    second = report(staging, "failed", "3 failed.", LINK)
    assert second.repeated
    assert (second.outcome, second.message, second.reported_at) == (
        first.outcome,
        first.message,
        first.reported_at,
    )
    assert (Task.objects.count(), Notification.objects.count()) == (tasks, alerts)
    assert Task.objects.filter(run=run, step__key="train").count() == 2  # looped back once


def test_reporting_a_different_result_afterwards_is_refused_with_409(run):
    staging = into_staging(run)
    report(staging, "failed", "3 failed.")
    with pytest.raises(services.WorkflowError) as refused:
        report(staging, "passed")
    assert refused.value.status == 409
    assert "already reported failed" in str(refused.value)
    staging.refresh_from_db()
    assert staging.outcome == "failed"


def test_a_report_on_a_cancelled_step_is_refused_with_409(run, lead):
    staging = into_staging(run)
    services.cancel_run(run=run, by=lead, note="Wrong model.")
    with pytest.raises(services.WorkflowError) as refused:
        report(staging, "passed")
    assert refused.value.status == 409
    assert "not waiting for a report: it is cancelled" in str(refused.value)


def test_a_report_on_a_task_of_a_step_that_waits_for_no_system_is_404(run):
    train = open_task(run, "train")
    with pytest.raises(services.WorkflowError) as refused:
        report(train, "passed")
    assert refused.value.status == 404


def test_another_teams_caller_is_told_the_task_does_not_exist(run):
    staging = into_staging(run)
    other = services.TeamCaller(team=TeamFactory(slug="elsewhere"))
    with pytest.raises(services.WorkflowError) as refused:
        report(staging, "passed", caller=other)
    assert refused.value.status == 404
    assert StepDispatch.objects.get(task=staging).outcome == ""


def test_a_read_only_caller_of_the_team_may_not_report(run, team):
    staging = into_staging(run)
    with pytest.raises(services.WorkflowError) as refused:
        report(staging, "passed", caller=services.TeamCaller(team=team, scope="read"))
    assert refused.value.status == 403


def test_the_callback_token_works_once(run, team):
    Webhook.objects.create(team=team, url="https://ci.example.com/hook", events=["step.waiting"])
    staging = into_staging(run)
    token = Delivery.objects.get(event="step.waiting").payload["data"]["callback_token"]
    caller = services.CallbackCaller(callback_token=token)
    assert report(staging, "failed", "flaky", caller=caller).reported_by == "CI (callback token)"
    with pytest.raises(services.WorkflowError) as refused:
        report(staging, "failed", "flaky", caller=caller)
    assert refused.value.status == 401
    assert "already used" in str(refused.value)


def test_a_callback_token_of_another_task_is_refused(run):
    staging = into_staging(run)
    with pytest.raises(services.WorkflowError) as refused:
        report(staging, "passed", caller=services.CallbackCaller(callback_token="rcb_guess"))
    assert refused.value.status == 401
    assert staging.state == State.IN_PROGRESS


@pytest.mark.parametrize(
    ("outcome", "link", "says"),
    [
        ("done", "", "'passed' or 'failed'"),
        ("passed", "javascript:alert(1)", "http(s) address"),
    ],
)
def test_bad_input_is_refused_with_422_and_changes_nothing(run, outcome, link, says):
    staging = into_staging(run)
    with pytest.raises(services.WorkflowError) as refused:
        report(staging, outcome, link=link)
    assert refused.value.status == 422
    assert says in str(refused.value)
    staging.refresh_from_db()
    assert staging.state == State.IN_PROGRESS


def test_no_report_within_the_sla_fails_the_step_once_however_often_the_sweeper_runs(run):
    staging = into_staging(run)
    later = timezone.now() + timedelta(hours=7)  # the ML staging step's SLA is 6 hours
    assert services.sweep_dispatches(now=later)["timed_out"] == 1
    assert services.sweep_dispatches(now=later)["timed_out"] == 0
    staging.refresh_from_db()
    assert (staging.state, staging.outcome) == (State.DONE, "failed")
    assert staging.automation_error == "No report within 6 hours."
    assert Task.objects.filter(run=run, step__key="train").count() == 2  # one loop-back
    alert = Notification.objects.get(kind=Kind.RUN_FAILED, recipient=run.owner, task=staging)
    assert "No report within 6 hours." in alert.payload["note"]


def test_the_sweeper_leaves_a_step_within_its_sla_alone(run):
    staging = into_staging(run)
    assert services.sweep_dispatches(now=timezone.now() + timedelta(hours=5))["timed_out"] == 0
    staging.refresh_from_db()
    assert staging.state == State.IN_PROGRESS


def test_a_late_report_after_the_timeout_is_refused_unless_it_agrees(run):
    staging = into_staging(run)
    services.sweep_dispatches(now=timezone.now() + timedelta(hours=7))
    with pytest.raises(services.WorkflowError) as refused:
        report(staging, "passed")
    assert refused.value.status == 409
    assert "No report" not in str(refused.value) and "Relay (timeout)" in str(refused.value)


def test_a_held_step_is_not_timed_out(run, lead):
    staging = into_staging(run)
    task_services.hold(task=staging, by=lead, note="CI is down")
    assert services.sweep_dispatches(now=timezone.now() + timedelta(hours=7))["timed_out"] == 0


def test_an_external_step_must_name_its_system_and_an_sla(team, skills):
    document = copy.deepcopy(definitions.ML_DEPLOYMENT)
    staging = next(s for s in document["steps"] if s["key"] == "staging")
    staging.update(system="", sla_hours=None)
    problems = exchange.check_import(document, team=team)
    assert any("External step 'staging' must name the system" in p for p in problems)
    assert any("External step 'staging' needs an SLA" in p for p in problems)


def test_export_and_import_keep_the_external_step(ml_template):
    document = exchange.export_template(ml_template)
    staging = next(s for s in document["steps"] if s["key"] == "staging")
    assert (staging["kind"], staging["system"], staging["sla_hours"]) == ("external", "CI", 6)
    assert exchange.check_import(document, team=ml_template.team) == []


def test_the_diagram_says_what_the_step_waits_for(ml_template):
    svg = str(render(ml_template))
    assert 'class="node external"' in svg
    assert "waits for CI" in svg


def test_the_board_shows_the_card_as_waiting_for_its_system(run, client_for, lead, team):
    staging = into_staging(run)
    board = client_for(lead).get(reverse("boards:board", args=[team.slug])).content.decode()
    card = board[board.index(f'id="card-{staging.pk}"') :]
    card = card[: card.index("</li>")]
    assert "Waiting for CI" in card


def test_a_link_to_a_ci_server_by_its_bare_host_name_is_kept(run):
    staging = into_staging(run)
    assert report(staging, "passed", link="http://jenkins:8080/job/7/").link == (
        "http://jenkins:8080/job/7/"
    )


def test_a_stray_automated_step_message_for_an_external_step_does_nothing(run):
    staging = into_staging(run)
    assert run_automated_step(staging.pk) == "skipped"
    staging.refresh_from_db()
    assert staging.state == State.IN_PROGRESS


# --- only the report finishes it; a lead may settle it by hand --------------------------------


def waits_sentence(task) -> str:
    return (
        f"This step waits for CI's report: it is finished by POST /api/v1/steps/{task.pk}/result."
    )


def assert_still_waiting(task) -> None:
    task.refresh_from_db()
    assert (task.state, task.outcome) == (State.IN_PROGRESS, "")
    assert not StateLog.objects.for_(task).filter(transition="complete").exists()
    dispatch = StepDispatch.objects.get(task=task)
    assert (dispatch.finished_at, dispatch.outcome, dispatch.reported_by) == (None, "", "")


def test_relay_automation_cannot_complete_the_step_around_its_report(run):
    staging = into_staging(run)
    with pytest.raises(task_services.TaskActionRefused) as refused:
        task_services.complete(task=staging, by=automation_user(), outcome="passed")
    assert refused.value.status == 409
    assert str(refused.value) == waits_sentence(staging)
    assert_still_waiting(staging)
    assert report(staging, "passed").outcome == "passed"  # the report still finishes it


def test_a_member_pressing_complete_on_the_page_is_refused_and_nothing_changes(
    run, client_for, member
):
    staging = into_staging(run)
    response = client_for(member).post(
        reverse("tasks:task_transition", args=[staging.pk, "complete"]), {"outcome": "passed"}
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert waits_sentence(staging).replace("'", "&#x27;") in page
    assert "A lead of the team may settle it by hand." in page
    assert 'data-testid="settle-hint"' not in page  # the hint is for leads
    assert_still_waiting(staging)


def test_a_lead_settles_the_step_by_hand_and_the_run_routes_on_it(run, lead, client_for):
    staging = into_staging(run)
    url = reverse("tasks:task_detail", args=[staging.pk])
    assert 'data-testid="settle-hint"' in client_for(lead).get(url).content.decode()
    task_services.complete(
        task=staging, by=lead, outcome="failed", note="CI is down; ran them locally: 2 fail."
    )
    assert open_task(run, "train").iteration == 2  # failed: back to train, as on a report
    log = StateLog.objects.for_(staging).get(transition="complete")
    assert log.by == lead
    assert log.description == (
        f"Settled by hand by {lead.display_name} instead of CI's report. "
        "CI is down; ran them locally: 2 fail."
    )
    dispatch = StepDispatch.objects.get(task=staging)
    assert dispatch.finished_at is not None
    assert dispatch.reported_by == f"{lead.display_name}, by hand"
    page = client_for(lead).get(reverse("tasks:task_detail", args=[staging.pk])).content.decode()
    assert "Settled by hand instead of CI's report" in page


def test_a_report_after_a_leads_settlement_is_refused_and_the_sweeper_leaves_it(run, lead):
    staging = into_staging(run)
    task_services.complete(task=staging, by=lead, outcome="passed")
    for outcome in ("passed", "failed"):
        with pytest.raises(services.WorkflowError) as refused:
            report(staging, outcome)
        assert refused.value.status == 409
        assert f"settled by hand ({lead.display_name}, by hand, passed)" in str(refused.value)
    assert services.sweep_dispatches(now=timezone.now() + timedelta(hours=7))["timed_out"] == 0
    staging.refresh_from_db()
    assert staging.outcome == "passed"


def test_hold_and_cancel_of_an_external_step_stay_as_they_were(run, lead):
    staging = into_staging(run)
    held = task_services.hold(task=staging, by=lead, note="CI is down")
    assert held.state == State.ON_HOLD
    resumed = task_services.resume(task=held, by=lead)
    assert resumed.state == State.IN_PROGRESS
    assert task_services.cancel(task=resumed, by=lead).state == State.CANCELLED
