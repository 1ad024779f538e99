"""An automated step's task enters the lifecycle like anyone's: through logged transitions,
taken by "Relay automation", a user nobody can log in as and nobody can be handed work as."""

import re

import pytest
from django.urls import reverse
from django_fsm_log.models import StateLog

from apps.assignment import selectors as assignment
from apps.assignment.services.batch import auto_assign_pending
from apps.tasks import services as task_services
from apps.tasks.models import State, Task, WipLimits
from apps.workflows import services

from ..html import text_of
from .conftest import GOOD_INPUTS
from .helpers import finish, open_task


@pytest.fixture
def ml_template(ml_automated_template):
    """These tests exercise automated steps: staging runs its registered action here."""
    return ml_automated_template


@pytest.fixture
def run(ml_template, lead):
    return services.start_run(
        template=ml_template, title="churn-v3", owner=lead, by=lead, inputs=GOOD_INPUTS
    )


def _log(task):
    return list(
        StateLog.objects.for_(task)
        .order_by("id")
        .values_list("transition", "source_state", "state", "by__username")
    )


def test_an_automated_step_is_assigned_started_and_finished_by_relay_automation(
    run, trainer, ml_reviewer, django_capture_on_commit_callbacks
):
    finish(run, "train")
    finish(run, "evaluate", "passed")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        finish(run, "review", "approved")
    staging = Task.objects.get(run=run, step__key="staging")
    assert staging.state == State.IN_PROGRESS
    assert _log(staging) == [
        ("assign", "todo", "assigned", "relay-automation"),
        ("start", "assigned", "in_progress", "relay-automation"),
    ]
    robot = staging.assignee
    assert robot.display_name == "Relay automation"
    assert robot.active_count == 0  # it keeps no capacity counter

    with django_capture_on_commit_callbacks(execute=True):
        for callback in queued:  # the action runs once the approval has committed
            callback()
    staging.refresh_from_db()
    assert (staging.state, staging.outcome) == (State.DONE, "passed")
    assert _log(staging)[-1] == ("complete", "in_progress", "done", "relay-automation")


def test_the_task_page_history_says_relay_automation_did_it(
    client_for, run, trainer, ml_reviewer, lead, django_capture_on_commit_callbacks
):
    finish(run, "train")
    finish(run, "evaluate", "passed")
    with django_capture_on_commit_callbacks(execute=True):
        finish(run, "review", "approved")
    staging = Task.objects.get(run=run, step__key="staging")
    page = client_for(lead).get(reverse("tasks:task_detail", args=[staging.pk]))
    history = " ".join(text_of(page, testid="history").split())
    # "<time> <who> <action>: <from> → <to>" per transition (the "created" line has no colon).
    lines = re.findall(r"\d\d:\d\d (\D+?: \D+?)(?= \d|$)", history)
    said = [re.sub(r" \S+:", ":", line) for line in lines]  # the action's wording aside
    assert said == [
        "Relay automation: To do → Assigned",
        "Relay automation: Assigned → In progress",
        "Relay automation: In progress → Done",
    ]


def test_relay_automation_cannot_log_in_and_is_never_given_work(
    client, run, trainer, ml_reviewer, team, lead, make_task, django_capture_on_commit_callbacks
):
    finish(run, "train")
    finish(run, "evaluate", "passed")
    with django_capture_on_commit_callbacks(execute=True):
        finish(run, "review", "approved")
    robot = Task.objects.get(run=run, step__key="staging").assignee
    assert not robot.is_active and not robot.has_usable_password()
    assert not client.login(username=robot.username, password="")
    assert not robot.memberships.exists()

    backlog = [make_task(title=f"t{i}") for i in range(3)]
    assert robot.pk not in [c.user.pk for c in assignment.candidates(task=backlog[0])]
    auto_assign_pending(team=team, by=lead)
    assert robot.pk not in {
        t.assignee_id for t in Task.objects.filter(pk__in=[t.pk for t in backlog])
    }
    with pytest.raises(task_services.TaskActionRefused, match="is not a member of this team"):
        task_services.assign_to(task=backlog[0], assignee=robot, by=lead)


def test_a_full_hard_column_never_stops_an_automated_step(
    run, team, trainer, ml_reviewer, lead, make_task
):
    """Relay's own moves only count against a WIP limit (README, "WIP limits"): refusing
    Relay automation would undo the approval that moved the run on."""
    finish(run, "train")
    finish(run, "evaluate", "passed")
    other = task_services.assign_to(task=make_task(title="Lead's own"), assignee=lead, by=lead)
    task_services.start(task=other, by=lead)
    review = open_task(run, "review")
    task_services.start(task=review, by=review.assignee)
    # In progress holds two; once the review is decided it is full at 1/1.
    WipLimits.objects.create(team=team, limits={"in_progress": 1})
    finish(run, "review", "approved")
    staging = Task.objects.get(run=run, step__key="staging")
    assert staging.state == State.IN_PROGRESS
    assert staging.assignee.display_name == "Relay automation"
    assert Task.objects.filter(team=team, state=State.IN_PROGRESS).count() == 2
