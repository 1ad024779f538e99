"""Reads about notifications: the inbox, the unread count, what a digest or reminder covers."""

from datetime import datetime, timedelta

from django.db.models import F, Q, QuerySet

from apps.people.models import Role
from apps.tasks.models import ACTIVE_STATES, OPEN_STATES, State, Task

from .models import Kind, Notification, NotificationSettings


def unread_count(*, user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def inbox(*, user) -> QuerySet[Notification]:
    """A person's notifications, unread first, newest first within each group."""
    return (
        Notification.objects.filter(recipient=user)
        .select_related("task")
        .order_by(F("read_at").desc(nulls_first=True), "-created_at", "-id")
    )


def own_notification(*, user, pk: int) -> Notification:
    """One of the person's own notifications; anyone else's is a 404 (DoesNotExist)."""
    return Notification.objects.get(recipient=user, pk=pk)


def preferences_for(*, user) -> NotificationSettings:
    """The person's saved settings, or unsaved defaults if they never changed any."""
    return NotificationSettings.objects.filter(user=user).first() or NotificationSettings(user=user)


def overdue_tasks(*, now: datetime) -> QuerySet[Task]:
    return (
        Task.objects.filter(due_at__lt=now, state__in=OPEN_STATES)
        .select_related("assignee", "team")
        .order_by("due_at", "pk")
    )


def team_leads(*, team_ids) -> dict[int, list]:
    from apps.people.models import Membership

    leads: dict[int, list] = {}
    for membership in Membership.objects.filter(
        team_id__in=team_ids, role=Role.LEAD
    ).select_related("user"):
        leads.setdefault(membership.team_id, []).append(membership.user)
    return leads


DIGEST_LIMIT = 20


def _task_line(task: Task) -> dict:
    return {
        "id": task.pk,
        "title": task.title,
        "state": task.get_state_display(),
        "due": task.due_at.isoformat() if task.due_at else "",
        "path": task.get_absolute_url(),
    }


def digest_content(*, user, since: datetime) -> dict:
    """What a person's daily digest says: their open work, reviews waiting for them and what
    happened to them since `since`. Three queries; lists are capped, counts are not."""
    open_tasks = Task.objects.filter(assignee=user, state__in=ACTIVE_STATES).order_by(
        "due_at", "-priority", "pk"
    )
    review_teams = user.memberships.filter(role__in=[Role.REVIEWER, Role.LEAD]).values("team_id")
    reviews = (
        Task.objects.filter(state=State.IN_REVIEW)
        .filter(Q(reviewer=user) | Q(reviewer__isnull=True, team_id__in=review_teams))
        .exclude(assignee=user)
        .order_by("updated_at", "pk")
    )
    changes = (
        Notification.objects.filter(recipient=user, created_at__gte=since)
        .exclude(kind=Kind.DIGEST)
        .order_by("-created_at", "-id")
    )
    open_list = [_task_line(t) for t in open_tasks[: DIGEST_LIMIT + 1]]
    review_list = [_task_line(t) for t in reviews[: DIGEST_LIMIT + 1]]
    change_list = [
        {
            "kind": n.get_kind_display(),
            "title": (n.payload or {}).get("title", ""),
            "by": (n.payload or {}).get("by", ""),
            "path": f"/tasks/{n.task_id}/" if n.task_id else "",
        }
        for n in changes[: DIGEST_LIMIT + 1]
    ]
    return {
        "open_tasks": open_list[:DIGEST_LIMIT],
        "open_more": len(open_list) > DIGEST_LIMIT,
        "reviews": review_list[:DIGEST_LIMIT],
        "reviews_more": len(review_list) > DIGEST_LIMIT,
        "changes": change_list[:DIGEST_LIMIT],
        "changes_more": len(change_list) > DIGEST_LIMIT,
    }


def digest_window(*, now: datetime) -> datetime:
    return now - timedelta(days=1)
