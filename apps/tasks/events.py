"""Webhook events about tasks (apps.hooks): what a `task.transitioned` delivery says.

Called from every path that moves a task (services._after_transition, writes.apply_in_bulk),
inside its transaction; the payload is only built when one of the team's hooks wants it, so a
team without webhooks pays one query per transition.
"""

from datetime import datetime

from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from apps.hooks.models import Event, Webhook
from apps.hooks.payloads import absolute, person, when
from apps.hooks.services import emit_event, emit_events
from apps.people.models import User

from .models import Task, state_label


def task_payload(task: Task) -> dict:
    """A task as every webhook event shows it (step.waiting and the run events use it too)."""
    step = task.step if task.step_id else None
    return {
        "id": task.pk,
        "title": task.title,
        "state": task.state,
        "state_label": str(state_label(task.state)),
        "outcome": task.outcome or None,
        "priority": task.priority,
        "iteration": task.iteration,
        "due_at": when(task.due_at),
        "assignee": person(task.assignee),
        "reviewer": person(task.reviewer),
        "run_id": task.run_id,
        "step": {"id": step.pk, "key": step.key, "name": step.name} if step else None,
        "url": absolute(reverse("tasks:task_detail", args=[task.pk])),
    }


def _transition(
    *, name: str, source: str, target: str, by: User | None, note: str, at: datetime
) -> dict:
    return {
        "name": name,
        "from": source,
        "to": target,
        "by": person(by),
        "note": note,
        "at": when(at),
    }


def with_hooks_known(queryset):
    """The tasks, each knowing whether its team has an active hook (`team_has_hooks`): a
    subquery in the query that loads the task anyway, so a transition in a team without hooks
    asks nothing more. Read in the transition's transaction, like a query of its own would be."""
    return queryset.annotate(
        team_has_hooks=Exists(Webhook.objects.filter(team_id=OuterRef("team_id"), is_active=True))
    )


def transitioned(*, task: Task, name: str, source: str, by: User | None, note: str) -> None:
    """One task moved: a `task.transitioned` delivery for each hook of its team that wants it."""
    if getattr(task, "team_has_hooks", True) is False:
        return
    at = timezone.now()
    emit_event(
        team=task.team_id,
        event=Event.TASK_TRANSITIONED,
        payload=lambda: {
            "task": task_payload(task),
            "transition": _transition(
                name=name, source=source, target=task.state, by=by, note=note, at=at
            ),
        },
    )


def transitioned_in_bulk(
    *,
    task_ids: list[int],
    team_ids: list[int],
    name: str,
    source: str,
    target: str,
    by: User | None,
    note: str,
    at: datetime,
) -> None:
    """Many tasks moved at once (the batch auto-assigner): the same deliveries, read in one
    query per team that has a hook for them."""
    for team_id in team_ids:

        def payloads(team_id=team_id) -> list[dict]:
            tasks = (
                Task.objects.filter(pk__in=task_ids, team_id=team_id)
                .select_related("assignee", "reviewer", "step")
                .order_by("pk")
            )
            transition = _transition(
                name=name, source=source, target=target, by=by, note=note, at=at
            )
            return [{"task": task_payload(task), "transition": transition} for task in tasks]

        emit_events(team=team_id, event=Event.TASK_TRANSITIONED, payloads=payloads)
