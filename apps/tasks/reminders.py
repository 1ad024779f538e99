"""Overdue reminders and daily digests: what Relay tells people about their tasks on a clock.

Celery beat runs both hourly (apps/tasks/tasks.py) and both are safe to run twice: a reminder
is keyed by task and day, a digest by person and local date, so the outbox writes each once.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.notifications.models import Kind
from apps.notifications.selectors import digests_due, received_since
from apps.notifications.services.outbox import notify
from apps.people import selectors as people

from . import selectors
from .models import Task

DIGEST_LIMIT = 20


def send_overdue_reminders(*, now: datetime | None = None) -> int:
    """Remind the assignee (or, for an unassigned task, the team's leads) of each open task
    past its due time: once per task per day, so running this twice in an hour adds nothing."""
    now = now or timezone.now()
    day = timezone.localdate(now).isoformat()
    tasks = list(selectors.overdue_tasks(now=now))
    leads = people.leads_by_team(team_ids={t.team_id for t in tasks if not t.assignee_id})
    created = 0
    for task in tasks:
        recipients = [task.assignee] if task.assignee_id else leads.get(task.team_id, [])
        with transaction.atomic():
            created += len(
                notify(
                    kind=Kind.OVERDUE,
                    recipients=recipients,
                    key=f"overdue:task:{task.pk}:day:{day}",
                    task=task,
                    payload={
                        "title": task.title,
                        "by": "Relay",
                        "due": task.due_at.isoformat(),
                        "note": f"Due {timezone.localtime(task.due_at):%a %d %b %H:%M %Z}",
                    },
                )
            )
    return created


def send_digests(*, now: datetime | None = None) -> int:
    """Write today's digest for everyone whose chosen hour has come in their time zone and
    who has not had it yet (the outbox's `digests_due` decides both). People with nothing to
    report get none."""
    now = now or timezone.now()
    created = 0
    for due in digests_due(now=now):
        content = digest_content(user=due.person, since=digest_window(now=now))
        if not (content["open_tasks"] or content["reviews"] or content["changes"]):
            continue
        with transaction.atomic():
            created += len(
                notify(
                    kind=Kind.DIGEST,
                    recipients=[due.person],
                    key=due.key,
                    payload={
                        "title": f"Digest for {due.local:%A %d %B}",
                        "date": f"{due.local:%a %d %b}",
                        "by": "Relay",
                        **content,
                    },
                )
            )
    return created


def digest_window(*, now: datetime) -> datetime:
    return now - timedelta(days=1)


def digest_content(*, user, since: datetime) -> dict:
    """What a person's daily digest says: their open work, reviews waiting for them and what
    happened to them since `since`. Three queries; lists are capped, counts are not."""
    # The same lists, in the same order, as the My work and Awaiting my review pages.
    open_tasks = selectors.my_work(user=user)
    reviews = selectors.awaiting_my_review(user=user)
    changes = received_since(user=user, since=since)
    open_list = [_task_line(t) for t in open_tasks[: DIGEST_LIMIT + 1]]
    review_list = [_task_line(t) for t in reviews[: DIGEST_LIMIT + 1]]
    change_list = [
        {
            "kind": n.label,
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


def _task_line(task: Task) -> dict:
    return {
        "id": task.pk,
        "title": task.title,
        "state": task.get_state_display(),
        "due": task.due_at.isoformat() if task.due_at else "",
        "path": task.get_absolute_url(),
    }
