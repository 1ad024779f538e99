"""Trying waiting tasks again when someone may fit them now: a freed slot, a raised capacity,
someone back from being away, time off that ended (the periodic sweep)."""

import logging
from collections.abc import Iterable

from django.db import DatabaseError, transaction
from django.db.models import F, QuerySet

from apps.people.models import Membership, User
from apps.tasks.models import State
from apps.tasks.services import TaskActionRefused

from ..models import WaitingTask
from .single import assign_with_decision

logger = logging.getLogger("relay.assignment")


def people_teams(*, user_id: int) -> QuerySet:
    """The person's teams' ids, as a subquery (no extra round trip)."""
    return Membership.objects.filter(user_id=user_id).values("team_id")


def retry_waiting(
    *,
    team_ids: Iterable[int] | QuerySet,
    stop_after: int | None = None,
    skip_task_id: int | None = None,
    limit: int = 50,
) -> int:
    """Try waiting tasks again, most urgent first; returns how many got someone.

    `stop_after=1` suits one freed slot: stop at the first success. Each retry runs in its own
    savepoint so a failure never undoes the change that triggered it.
    """
    rows = (
        WaitingTask.objects.filter(team_id__in=team_ids, task__state=State.TODO)
        .exclude(task_id=skip_task_id)
        .select_related("task", "task__required_skill")
        .order_by("-task__priority", F("task__due_at").asc(nulls_last=True), "since", "id")[:limit]
    )
    assigned = 0
    for row in list(rows):
        try:
            with transaction.atomic():
                result = assign_with_decision(task=row.task, exclude=row.excluded)
        except TaskActionRefused as refusal:  # e.g. someone changed it meanwhile
            logger.info("waiting task %s not retried: %s", row.task_id, refusal)
            continue
        except DatabaseError:  # e.g. a deadlock victim on PostgreSQL: its savepoint is undone
            logger.exception("retrying waiting task %s failed", row.task_id)
            continue
        if result.task is not None:
            assigned += 1
            if stop_after is not None and assigned >= stop_after:
                break
    return assigned


def capacity_changed(*, user: User) -> int:
    """Someone's capacity went up or they came back: retry waiting tasks in their teams."""
    return retry_waiting(team_ids=people_teams(user_id=user.pk))


def retry_all_waiting() -> int:
    """The periodic sweep (time off that ended, anything a hook missed)."""
    team_ids = set(WaitingTask.objects.values_list("team_id", flat=True).distinct())
    return retry_waiting(team_ids=team_ids) if team_ids else 0
