"""Choosing who does a task. (First version: eligibility and load only; the assignment engine
issue adds ranked reasons, stored decisions, batch assignment and retries.)"""

from collections.abc import Iterable

from django.db.models import F

from apps.people.models import User
from apps.people.selectors import availability
from apps.tasks import services as task_services
from apps.tasks.models import Task


def _eligible(task: Task, exclude: set[int]) -> list[User]:
    people = User.objects.filter(memberships__team_id=task.team_id, is_active=True).exclude(
        pk__in=exclude
    )
    if task.required_skill_id:
        people = people.filter(
            skills__skill_id=task.required_skill_id, skills__level__gte=task.min_level
        )
    people = people.filter(active_count__lt=F("capacity")).order_by("last_assigned_at", "pk")
    return [p for p in people if availability(user=p).available]


def assign(
    *, task: Task, person: User | None = None, by: User | None = None, exclude: Iterable = ()
) -> Task | None:
    """Assign `person`, or (None) the least-loaded eligible member; None if nobody fits."""
    if person is not None:
        return task_services.assign_to(task=task, assignee=person, by=by)
    excluded = {getattr(p, "pk", p) for p in exclude}
    candidates = _eligible(task, excluded)
    candidates.sort(key=lambda p: p.active_count / max(p.capacity, 1))
    for candidate in candidates:
        try:
            return task_services.assign_to(task=task, assignee=candidate, by=by)
        except task_services.TaskActionRefused:
            continue
    return None
