"""The batch writes a task's assignment exactly as one assignment does: the same log entry, the
same notification (key, payload), and nothing when a task left `todo` meanwhile."""

import pytest
from django.db import transaction
from django_fsm import ConcurrentTransition
from django_fsm_log.models import StateLog

from apps.assignment.services.batch import auto_assign_pending
from apps.assignment.services.single import assign
from apps.notifications.models import Kind, Notification
from apps.tasks import services as task_services
from apps.tasks.models import State, Task
from apps.tasks.writes import BulkTask


def _written(task: Task) -> tuple[tuple, list[tuple]]:
    """What assigning `task` wrote: its log entry and its notifications (whether each went to
    the assignee, under the key naming the task, its log entry and the assignee)."""
    task.refresh_from_db()
    [log] = StateLog.objects.for_(task)
    told = [
        (
            n.kind,
            n.recipient_id == task.assignee_id,
            n.key == f"assigned:task:{task.pk}:log:{log.pk}:to:{task.assignee_id}",
            sorted(n.payload),
            n.payload["by"],
            n.payload["title"] == task.title,
        )
        for n in Notification.objects.filter(task=task)
    ]
    return (log.transition, log.source_state, log.state, log.by_id), told


def test_a_batch_assignment_is_logged_and_announced_as_a_single_one_is(
    make_person, ml_task, team, lead
):
    make_person("ann", capacity=5)
    one, many = ml_task(title="one by one"), ml_task(title="in the batch")
    assign(task=one, by=lead)
    auto_assign_pending(team=team, by=lead)
    single, batch = _written(one), _written(many)
    assert single == batch
    assert single == (
        ("assign", State.TODO, State.ASSIGNED, lead.pk),
        [
            (
                Kind.ASSIGNED,
                True,
                True,
                ["by", "note", "title"],
                lead.display_name,
                True,
            )
        ],
    )
    # the notes differ as they should: each says how the person was chosen
    assert StateLog.objects.for_(many).get().description == "Auto-assigned (batch)"


def test_the_bulk_transition_writes_nothing_if_a_task_left_its_source_state(
    make_person, ml_task, lead
):
    ann, bob = make_person("ann", capacity=5), make_person("bob", capacity=5)
    still_todo, taken = ml_task(title="still todo"), ml_task(title="taken meanwhile")
    task_services.assign_to(task=taken, assignee=bob, by=lead)
    logs, told = StateLog.objects.count(), Notification.objects.count()
    with pytest.raises(ConcurrentTransition), transaction.atomic():  # as the batch calls it
        task_services.apply_in_bulk(
            name="assign",
            tasks=[
                BulkTask(pk=t.pk, title=t.title, team_id=t.team_id, kwargs={"assignee": ann})
                for t in (still_todo, taken)
            ],
            by=lead,
        )
    assert (StateLog.objects.count(), Notification.objects.count()) == (logs, told)
    still_todo.refresh_from_db()
    taken.refresh_from_db()
    ann.refresh_from_db()
    assert (still_todo.state, still_todo.assignee) == (State.TODO, None)
    assert taken.assignee == bob
    assert ann.active_count == 0
