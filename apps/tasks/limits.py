"""Work-in-progress limits, decided once for every transition (apps.tasks.services._apply).

A team's lead puts a limit on an active column (Assigned, In progress, In review). A person's
transition that brings one more task into a full column is refused when the limit is hard and
goes ahead with a warning when it is soft — from the task page, the board, the drawer, the
queue pages, the assignment panel and the admin alike, because they all reach the one
transition entry point.

Two kinds of move are never refused by a limit, only told that the column is over it:
- a reviewer sending work back (request changes): the work was already counted in progress
  before it was submitted, and a full column must not trap the reviewer into approving;
- Relay's own moves (by=None: the run engine assigning a new step's task, automated steps,
  retries of waiting tasks): refusing them would undo the change that caused them (the
  approval that moved the run on). They still count, so the next person's pull is refused.

The limits row is locked while the column is counted, so two moves racing for the last slot
are taken one at a time.
"""

from dataclasses import dataclass

from django.db.models import OuterRef, Subquery
from django.db.models.fields.json import JSONField
from django.utils.translation import gettext as _

from apps.people.models import User
from apps.people.system import is_automation

from .models import LIMITABLE_STATES, Task, WipLimits, state_label

# Actions that are never refused by a limit (see the module docstring).
SEND_BACK = frozenset({"request_changes"})


@dataclass(frozen=True)
class Verdict:
    """What the limit says about one move: refused (hard), a warning, or "" for both (room)."""

    refused: str = ""
    warning: str = ""


ROOM = Verdict()


def annotate_limits(tasks):
    """The team's limits read with the task (no extra query when the team has none)."""
    return tasks.annotate(
        team_wip_limits=Subquery(
            WipLimits.objects.filter(team_id=OuterRef("team_id")).values("limits")[:1],
            output_field=JSONField(),
        )
    )


def verdict(*, task: Task, action: str, target: str, by: User | None) -> Verdict:
    """Whether `action` may bring `task` into `target`, with the words to say.

    `task` is the locked row; when it was read with annotate_limits and its team has no limit
    on `target`, nothing more is queried.
    """
    if target not in LIMITABLE_STATES or target == task.state:
        return ROOM
    known = getattr(task, "team_wip_limits", ...)
    if known is not ... and not (known or {}).get(target):
        return ROOM
    settings = WipLimits.objects.select_for_update().filter(team_id=task.team_id).first()
    limit = settings.limit_for(target) if settings else None
    if limit is None:
        return ROOM
    count = Task.objects.filter(team_id=task.team_id, state=target).count()
    if count < limit:
        return ROOM
    values = {"col": state_label(target), "count": count + 1, "limit": limit}
    if action in SEND_BACK:
        return Verdict(
            warning=_(
                "Sent back although %(col)s is over its WIP limit (%(count)d/%(limit)d): a "
                "limit holds new work, never a reviewer's decision."
            )
            % values
        )
    # Relay's own moves (the engine, Relay automation) are never refused: they only count.
    if settings.soft or by is None or is_automation(by):
        return Verdict(
            warning=_("%(col)s is now over its WIP limit (%(count)d/%(limit)d).") % values
        )
    return Verdict(
        refused=_(
            "%(col)s is full (%(count)d/%(limit)d, the team's WIP limit): finish or move "
            "something out of it first."
        )
        % {**values, "count": count}
    )


def room(*, team_id: int, target: str, by: User | None) -> tuple[int | None, str]:
    """How many more tasks a person's bulk move (the batch auto-assigner) may bring into
    `target` under the team's hard limit, and the sentence once it is full; (None, "") when
    nothing limits it. The limits row is locked, as one move locks it in `verdict`."""
    if target not in LIMITABLE_STATES or by is None or is_automation(by):
        return None, ""
    settings = WipLimits.objects.select_for_update().filter(team_id=team_id).first()
    limit = settings.limit_for(target) if settings and not settings.soft else None
    if limit is None:
        return None, ""
    count = Task.objects.filter(team_id=team_id, state=target).count()
    full = _(
        "%(col)s is full (%(limit)d/%(limit)d, the team's WIP limit): finish or move "
        "something out of it first."
    ) % {"col": state_label(target), "limit": limit}
    return max(limit - count, 0), full
