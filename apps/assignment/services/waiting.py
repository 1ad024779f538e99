"""A task nobody can take now: its WaitingTask row, the reasons kept on it, and the leads told.

`single` marks one task; `batch` writes the same record for many at once.
"""

from collections import Counter
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from apps.notifications.models import Kind
from apps.notifications.services.outbox import notify
from apps.people import selectors as people
from apps.people.models import User
from apps.tasks.models import Task

from ..models import WaitingTask
from ..selectors import Candidate, Reason

# How many people's reasons a waiting task keeps (the nearest to eligible first).
KEPT_REASONS = 10


def reason_record(nearest_first: list[tuple[User, list[Reason]]]) -> dict:
    """What WaitingTask.reasons keeps: the nearest-to-eligible people's reasons, how many
    people more, and how many reasons of each kind in all."""
    kinds = Counter(r.kind for _, reasons in nearest_first for r in reasons)
    return {
        "people": [
            [user.display_name, [r.text for r in reasons]]
            for user, reasons in nearest_first[:KEPT_REASONS]
        ],
        "others": max(0, len(nearest_first) - KEPT_REASONS),
        "kinds": dict(kinds),
    }


def summary(record: dict) -> str:
    """A reason record in one line, for the leads' notification."""
    if not record["people"]:
        return _("the team has no members")
    return "; ".join(f"{name}: {', '.join(reasons)}" for name, reasons in record["people"][:3])


def mark_waiting(*, task: Task, ranked: list[Candidate], excluded: list[int]) -> WaitingTask:
    """Nobody can take it now: keep the reasons, tell the leads once, retry when people free up."""
    record = reason_record([(c.user, c.reasons) for c in ranked])
    waiting, created = WaitingTask.objects.update_or_create(
        task=task,
        defaults={
            "team_id": task.team_id,
            "reasons": record,
            "excluded": excluded,
            "last_tried_at": timezone.now(),
        },
    )
    if created:
        notify(
            kind=Kind.UNASSIGNABLE,
            recipients=people.leads_at_work(team_id=task.team_id),
            key=f"unassignable:task:{task.pk}:since:{stamp(waiting.since)}",
            task=task,
            payload={"title": task.title, "by": "Relay", "note": summary(record)},
        )
    return waiting


def stamp(moment: datetime) -> int:
    """A moment in whole microseconds, for notification keys (one per moment, unlike seconds)."""
    return round(moment.timestamp() * 1_000_000)
