"""Reads about tasks, and who may see which."""

from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q, QuerySet
from django_fsm import can_proceed, has_transition_perm
from django_fsm_log.models import StateLog

from apps.people.models import Team, User

from .models import OPEN_STATES, Task
from .services import ACTIONS, Action


def visible_tasks(user: User) -> QuerySet[Task]:
    """Members see their teams' tasks only; staff see all; anonymous users see nothing."""
    if not user.is_authenticated:
        return Task.objects.none()
    if user.is_staff:
        return Task.objects.all()
    return Task.objects.filter(team__memberships__user=user)


def team_task_list(*, team: Team, state: str | None = None, query: str = "") -> QuerySet[Task]:
    tasks = (
        Task.objects.filter(team=team)
        .select_related("assignee", "required_skill", "reviewer")
        .annotate(
            comment_count=Count("comments", distinct=True),
            checklist_total=Count("checklist", distinct=True),
            checklist_done=Count("checklist", filter=Q(checklist__done=True), distinct=True),
        )
        .order_by(Task.lifecycle_rank(), "position", "-priority", "id")
    )
    if state:
        tasks = tasks.filter(state=state)
    if query:
        tasks = tasks.filter(Q(title__icontains=query) | Q(description__icontains=query))
    return tasks


def overdue_tasks(*, now: datetime) -> QuerySet[Task]:
    """Open tasks past their due time, the longest overdue first."""
    return (
        Task.objects.filter(due_at__lt=now, state__in=OPEN_STATES)
        .select_related("assignee", "team")
        .order_by("due_at", "pk")
    )


def task_history(task: Task) -> QuerySet[StateLog]:
    return (
        StateLog.objects.filter(
            content_type=ContentType.objects.get_for_model(Task), object_id=task.pk
        )
        .select_related("by")
        .order_by("timestamp", "id")
    )


def available_actions(*, task: Task, user: User) -> list[Action]:
    """The transitions this user may take on this task now, in lifecycle order."""
    if not user.is_authenticated:
        return []
    actions = []
    for name, action in ACTIONS.items():
        method = getattr(task, name)
        if can_proceed(method) and has_transition_perm(method, user):
            actions.append(action)
    return actions


def task_panels(*, task: Task, user: User) -> dict:
    """What the task page and the board's drawer show of a task, for this viewer.

    Assigning is left out of the actions: the assignment panel does it, with who and why.
    """
    from .services import allowed_outcomes

    return {
        "task": task,
        "team": task.team,
        "history": task_history(task),
        "comments": task.comments.select_related("author"),
        "checklist": task.checklist.all(),
        "actions": [a for a in available_actions(task=task, user=user) if a.name != "assign"],
        "outcomes": allowed_outcomes(task),
    }
