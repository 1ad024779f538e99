"""WIP limits hold on every path: the task page, the board, the drawer, the queue pages, the
assignment panel and the admin all reach apps.tasks.services, which decides them once.

The rule (README, "WIP limits"): a person's move into a full column is refused under a hard
limit and warned about under a soft one; a reviewer sending work back is never refused, only
told; Relay's own moves are never refused. A refused action keeps what the person typed.
"""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django_fsm_log.models import StateLog

from apps.people.models import Role
from apps.tasks import services
from apps.tasks.models import State, Task, WipLimits

from ..boards.conftest import htmx, move_url
from ..html import text_of
from .test_admin import change_url, messages_on, press

pytestmark = pytest.mark.django_db

FULL = "In progress is full (1/1, the team&#x27;s WIP limit)"
FULL_TEXT = "In progress is full (1/1, the team's WIP limit)"


def transition_url(task, action):
    return reverse("tasks:task_transition", args=[task.pk, action])


def limit(team, soft=False, **limits):
    WipLimits.objects.create(team=team, limits=limits, soft=soft)


def in_progress_count(team):
    return Task.objects.filter(team=team, state=State.IN_PROGRESS).count()


@pytest.fixture
def waiting(make_task, member, lead):
    """`member` has one task in progress and two more assigned, waiting to start."""
    busy = make_task(title="Busy")
    services.assign_to(task=busy, assignee=member, by=lead)
    services.start(task=busy, by=member)
    tasks = [make_task(title=f"Next {i}") for i in (1, 2)]
    for task in tasks:
        services.assign_to(task=task, assignee=member, by=lead)
    return tasks


# --- a hard limit refuses Start on every path --------------------------------------------


def test_start_on_the_task_page_is_refused_by_a_full_hard_column(client_for, team, waiting, member):
    """The report: Start on the task page took a hard-limited column to 3/2, then 5/2."""
    limit(team, in_progress=1)
    client = client_for(member)
    for task in waiting:
        response = client.post(transition_url(task, "start"), {"expected_state": "assigned"})
        assert response.status_code == 409
        assert FULL in response.content.decode()
    assert in_progress_count(team) == 1
    assert [t.state for t in Task.objects.filter(pk__in=[t.pk for t in waiting])] == [
        State.ASSIGNED
    ] * 2


def test_start_on_the_task_page_keeps_the_typed_note_when_refused(
    client_for, team, waiting, member
):
    limit(team, in_progress=1)
    response = client_for(member).post(
        transition_url(waiting[0], "start"),
        {"expected_state": "assigned", "note": "Picking up the baseline"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 409
    assert text_of(response, role="alert") == FULL_TEXT + (
        ": finish or move something out of it first."
    )
    assert text_of(response, name="note") == "Picking up the baseline"


def drawer_post(client, task, **data):
    return htmx(client, "post", move_url(task), {"ctx": "drawer", **data})


def queue_post(client, task, where, **data):
    return htmx(client, "post", move_url(task), {"ctx": where, **data})


@pytest.mark.parametrize("path", ["service", "task page", "board drag", "drawer", "my work"])
def test_every_path_refuses_start_into_a_full_column_with_the_same_sentence(
    path, client_for, team, waiting, member
):
    limit(team, in_progress=1)
    task = waiting[0]
    client = client_for(member)
    if path == "service":
        with pytest.raises(services.TaskActionRefused) as refusal:
            services.start(task=task, by=member)
        assert refusal.value.status == 409
        body = str(refusal.value)
    else:
        response = {
            "task page": lambda: client.post(
                transition_url(task, "start"), {"expected_state": "assigned"}
            ),
            "board drag": lambda: htmx(
                client, "post", move_url(task), {"from_state": "assigned", "to": "in_progress"}
            ),
            "drawer": lambda: drawer_post(client, task, action="start", expected_state="assigned"),
            "my work": lambda: queue_post(
                client, task, "mywork", action="start", expected_state="assigned"
            ),
        }[path]()
        assert response.status_code == 409
        body = response.content.decode().replace("&#x27;", "'")
    assert FULL_TEXT in body
    task.refresh_from_db()
    assert task.state == State.ASSIGNED
    assert in_progress_count(team) == 1


def test_the_drawer_keeps_the_typed_note_and_says_why_next_to_it(client_for, team, waiting, member):
    limit(team, in_progress=1)
    response = drawer_post(
        client_for(member),
        waiting[0],
        action="start",
        expected_state="assigned",
        note="Starting after stand-up",
    )
    assert response.status_code == 409
    assert FULL_TEXT in text_of(response, testid="action-error")
    assert text_of(response, name="note") == "Starting after stand-up"


def test_the_admin_start_is_refused_by_a_full_hard_column(client_for, team, waiting, make_member):
    limit(team, in_progress=1)
    staff_lead = make_member(Role.LEAD, is_staff=True, is_superuser=True)
    page = press(client_for(staff_lead), waiting[0], "start")
    assert page.request["PATH_INFO"] == change_url(waiting[0])
    assert messages_on(page, "error") == [FULL_TEXT + ": finish or move something out of it first."]
    waiting[0].refresh_from_db()
    assert waiting[0].state == State.ASSIGNED


def test_resume_into_a_full_column_is_refused(client_for, team, make_task, member, lead):
    held = make_task(title="Held")
    services.assign_to(task=held, assignee=member, by=lead)
    services.start(task=held, by=member)
    services.hold(task=held, by=member)
    busy = make_task(title="Busy")
    services.assign_to(task=busy, assignee=member, by=lead)
    services.start(task=busy, by=member)
    limit(team, in_progress=1)
    response = client_for(member).post(
        transition_url(held, "resume"), {"expected_state": "on_hold"}
    )
    assert response.status_code == 409
    held.refresh_from_db()
    assert held.state == State.ON_HOLD


def test_a_lead_assigning_from_the_panel_into_a_full_assigned_column_is_refused(
    client_for, team, make_task, member, other_member, lead
):
    """Assigning is a move into Assigned: the assignment panel gets the board's answer."""
    services.assign_to(task=make_task(title="Queued"), assignee=member, by=lead)
    limit(team, assigned=1)
    task = make_task(title="One more")
    response = htmx(
        client_for(lead),
        "post",
        reverse("assignment:assign", args=[task.pk]),
        {"person": other_member.pk, "expected_state": "todo", "page": "drawer"},
    )
    assert response.status_code == 409
    assert "Assigned is full (1/1, the team&#x27;s WIP limit)" in response.content.decode()
    task.refresh_from_db()
    assert (task.state, task.assignee) == (State.TODO, None)


def test_the_panels_auto_assign_into_a_full_assigned_column_is_refused_with_the_reason(
    client_for, team, make_task, member, other_member, lead
):
    """The column is full whoever takes the task: the engine does not try everyone and then
    say "nobody can take this"; the lead hears why."""
    services.assign_to(task=make_task(title="Queued"), assignee=member, by=lead)
    limit(team, assigned=1)
    task = make_task(title="One more")
    response = htmx(
        client_for(lead),
        "post",
        reverse("assignment:assign", args=[task.pk]),
        {"person": "", "expected_state": "todo", "page": "drawer"},
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert "Assigned is full (1/1, the team&#x27;s WIP limit)" in body
    assert "Nobody can take this task now" not in body
    task.refresh_from_db()
    assert (task.state, task.assignee) == (State.TODO, None)


def test_the_workloads_batch_auto_assign_stops_at_a_full_assigned_column(
    client_for, team, make_task, member, other_member, lead
):
    """The Workload page's Auto-assign writes in bulk; the hard limit holds it all the same,
    and the lead hears how many were left and why."""
    services.assign_to(task=make_task(title="Queued"), assignee=member, by=lead)
    limit(team, assigned=2)
    backlog = [make_task(title=f"Backlog {i}") for i in range(4)]
    response = client_for(lead).post(
        reverse("assignment:auto_assign_pending", args=[team.slug]), follow=True
    )
    assert Task.objects.filter(team=team, state=State.ASSIGNED).count() == 2
    left = Task.objects.filter(pk__in=[t.pk for t in backlog], state=State.TODO)
    assert left.count() == 3 and not left.exclude(assignee=None).exists()
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert "Auto-assign: 1 assigned, 0 waiting for someone eligible." in said
    assert (
        "3 left to do: Assigned is full (2/2, the team's WIP limit): finish or move "
        "something out of it first."
    ) in said


# --- soft limits warn -----------------------------------------------------------------


def test_a_soft_limit_lets_start_through_on_the_task_page_and_says_so(
    client_for, team, waiting, member
):
    limit(team, soft=True, in_progress=1)
    client = client_for(member)
    response = client.post(
        transition_url(waiting[0], "start"),
        {"expected_state": "assigned"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert text_of(response, testid="warning") == "In progress is now over its WIP limit (2/1)."
    response = client.post(transition_url(waiting[1], "start"), {"expected_state": "assigned"})
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "In progress is now over its WIP limit (3/1)."
    ]
    assert in_progress_count(team) == 3


def test_a_soft_limit_lets_the_admin_start_through_and_says_so(
    client_for, team, waiting, make_member
):
    limit(team, soft=True, in_progress=1)
    staff_lead = make_member(Role.LEAD, is_staff=True, is_superuser=True)
    page = press(client_for(staff_lead), waiting[0], "start")
    assert messages_on(page, "warning") == [
        "Start: done. In progress is now over its WIP limit (2/1)."
    ]
    waiting[0].refresh_from_db()
    assert waiting[0].state == State.IN_PROGRESS


# --- a reviewer sending work back is never trapped -----------------------------------------


@pytest.fixture
def sent_for_review(make_task, member, lead):
    task = make_task(title="Evaluate churn model", requires_review=True)
    services.assign_to(task=task, assignee=member, by=lead)
    services.start(task=task, by=member)
    services.submit(task=task, by=member)
    return task


def fill_in_progress(team, make_task, other_member, lead):
    busy = make_task(title="Busy")
    services.assign_to(task=busy, assignee=other_member, by=lead)
    services.start(task=busy, by=other_member)
    limit(team, in_progress=1)


SENT_BACK = (
    "Sent back although In progress is over its WIP limit (2/1): a limit holds new work, "
    "never a reviewer's decision."
)


def test_a_reviewer_requests_changes_from_the_queue_into_a_full_hard_column(
    client_for, team, make_task, sent_for_review, other_member, reviewer, lead
):
    """Sending back is always allowed under a hard limit, and says the column is over it."""
    fill_in_progress(team, make_task, other_member, lead)
    response = queue_post(
        client_for(reviewer),
        sent_for_review,
        "reviews",
        action="request_changes",
        expected_state="in_review",
        note="Add the holdout metrics",
    )
    assert response.status_code == 200
    assert SENT_BACK in text_of(response, testid="toast")
    sent_for_review.refresh_from_db()
    assert (sent_for_review.state, sent_for_review.outcome) == (
        State.IN_PROGRESS,
        "changes_requested",
    )
    # What she typed is kept, in the history.
    log = StateLog.objects.for_(sent_for_review).latest("id")
    assert (log.transition, log.description) == ("request_changes", "Add the holdout metrics")


def test_a_reviewer_dragging_work_back_into_a_full_hard_column_is_not_refused(
    client_for, team, make_task, sent_for_review, other_member, reviewer, lead
):
    fill_in_progress(team, make_task, other_member, lead)
    response = htmx(
        client_for(reviewer),
        "post",
        move_url(sent_for_review),
        {"from_state": "in_review", "to": "in_progress"},
    )
    assert response.status_code == 200
    assert SENT_BACK in text_of(response, testid="toast")
    assert in_progress_count(team) == 2


def test_a_reviewer_sending_back_on_the_task_page_is_told_the_column_is_over(
    client_for, team, make_task, sent_for_review, other_member, reviewer, lead
):
    fill_in_progress(team, make_task, other_member, lead)
    response = client_for(reviewer).post(
        transition_url(sent_for_review, "request_changes"),
        {"expected_state": "in_review", "note": "Add the holdout metrics"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert text_of(response, testid="warning") == SENT_BACK
    sent_for_review.refresh_from_db()
    assert sent_for_review.state == State.IN_PROGRESS


def test_the_assignee_cannot_restart_other_work_once_the_column_is_over(
    client_for, team, make_task, sent_for_review, other_member, member, reviewer, lead
):
    """The sent-back task counts: it is the next pull into the column that waits."""
    fill_in_progress(team, make_task, other_member, lead)
    services.request_changes(task=sent_for_review, by=reviewer)
    another = make_task(title="Another")
    services.assign_to(task=another, assignee=member, by=lead)
    response = client_for(member).post(
        transition_url(another, "start"), {"expected_state": "assigned"}
    )
    assert response.status_code == 409
    assert "In progress is full (2/1" in response.content.decode()


# --- Relay's own moves --------------------------------------------------------------------


def test_relay_assigning_into_a_full_column_goes_ahead_and_says_it_is_over(
    team, make_task, member, other_member, lead
):
    """The run engine (by=None) is never refused: refusing would undo the approval that moved
    the run on. The column is over its limit, and the next person's pull is refused."""
    services.assign_to(task=make_task(title="Queued"), assignee=member, by=lead)
    limit(team, assigned=1)
    task = services.assign_to(task=make_task(title="Next step"), assignee=other_member, by=None)
    assert task.state == State.ASSIGNED
    assert task.wip_warning == "Assigned is now over its WIP limit (2/1)."
    with pytest.raises(services.TaskActionRefused, match="Assigned is full"):
        services.assign_to(task=make_task(title="Third"), assignee=other_member, by=lead)


# --- a refused action keeps what was typed --------------------------------------------------


def test_a_refused_complete_on_the_task_page_keeps_the_note_and_the_outcome(
    client_for, make_task, member, lead
):
    """Here refused because the tab was stale (opened before the task was started)."""
    task = make_task(title="Check the data")
    services.assign_to(task=task, assignee=member, by=lead)
    services.start(task=task, by=member)
    response = client_for(member).post(
        transition_url(task, "complete"),
        {"expected_state": "assigned", "outcome": "failed", "note": "Labels are shifted by one"},
    )
    assert response.status_code == 409
    assert "Someone else changed this task first" in text_of(response, role="alert")
    assert text_of(response, name="note") == "Labels are shifted by one"
    assert '<option value="failed" selected>' in response.content.decode()


def test_a_refused_complete_on_my_work_keeps_the_outcome_and_says_why(
    client_for, make_task, member, lead
):
    task = make_task(title="Check the data")
    services.assign_to(task=task, assignee=member, by=lead)
    services.start(task=task, by=member)
    response = queue_post(
        client_for(member),
        task,
        "mywork",
        action="complete",
        expected_state="assigned",
        outcome="failed",
    )
    assert response.status_code == 409
    assert "Someone else changed this task first" in text_of(response, testid="action-error")
    assert '<option value="failed" selected>' in response.content.decode()
    task.refresh_from_db()
    assert task.state == State.IN_PROGRESS
