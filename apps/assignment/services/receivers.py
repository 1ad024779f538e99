"""The assignment app's reactions to other apps' events, connected in AssignmentConfig.ready:
apps.tasks.signals.task_transitioned and apps.people.signals.availability_changed."""

from apps.people.models import User
from apps.tasks.models import State, Task
from apps.tasks.services import TaskActionRefused

from .. import selectors
from ..models import WaitingTask
from .retries import capacity_changed, people_teams, retry_waiting

# Transitions after which the (former) assignee holds one task fewer.
FREEING = frozenset({"complete", "approve", "reject", "cancel", "unassign", "hold"})


def on_task_transitioned(*, task: Task, name: str, by: User | None, vetted: bool, **kwargs) -> None:
    """apps.tasks.signals.task_transitioned: hold every assignment to the eligibility rules,
    tidy waiting rows, retry waiting tasks when capacity frees."""
    if name == "assign" and by is not None and not vetted:
        _refuse_ineligible(task=task, by=by)
    if name in ("assign", "hold", "cancel"):
        WaitingTask.objects.filter(task_id=task.pk).delete()
    # A review step's "request changes" finishes its task (the run loops back): a slot frees.
    freeing = name in FREEING or (name == "request_changes" and task.state == State.DONE)
    if not freeing or (task.assignee_id is None and name != "unassign"):
        return
    # The freed slot is the (former) assignee's: their teams' waiting tasks may now fit. After
    # an unassign the person is no longer on the task, but they are in its team.
    team_ids = (
        people_teams(user_id=task.assignee_id) if task.assignee_id is not None else [task.team_id]
    )
    retry_waiting(team_ids=team_ids, stop_after=1, skip_task_id=task.pk)


def on_tasks_transitioned_in_bulk(
    *, task_ids: list[int], team_ids: list[int], name: str, by: User | None, vetted: bool, **kwargs
) -> None:
    """apps.tasks.signals.tasks_transitioned_in_bulk (the batch auto-assigner): what
    on_task_transitioned does for each task, for the whole set in a few queries."""
    if name not in ("assign", "hold", "cancel"):
        raise ValueError(f"The assignment app does not react to {name!r} in bulk.")
    if name == "assign" and by is not None and not vetted:
        for task in Task.objects.filter(pk__in=task_ids).select_related("assignee"):
            _refuse_ineligible(task=task, by=by)
    # Waiting rows of tasks no longer `todo` (just assigned): no 10,000-id IN list needed.
    WaitingTask.objects.filter(team_id__in=team_ids).exclude(task__state=State.TODO).delete()


def _refuse_ineligible(*, task: Task, by: User) -> None:
    """A person assigning around the engine (tasks.services.assign_to, the task page's plain
    Assign button) still may not give work to someone unskilled, away or on time off: refusing
    here rolls the transition back. Relay's own callers (by=None: the run engine) are trusted
    to have asked the engine. Capacity is not rechecked: the counter was just raised and the
    database constraint has already refereed it."""
    for candidate in selectors.candidates(task=task, user_id=task.assignee_id):
        candidate.reasons = [r for r in candidate.reasons if r.kind != selectors.CAPACITY]
        if candidate.reasons:
            raise TaskActionRefused(selectors.refusal_for(candidate=candidate, task=task, by=by))


def on_availability_changed(*, user: User, **kwargs) -> None:
    """apps.people.signals.availability_changed: someone may fit a waiting task now."""
    capacity_changed(user=user)
