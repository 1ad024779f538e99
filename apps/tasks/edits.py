"""Editing a task after it was created: who may change which field, and its history.

A service module of its own (beside services.py, whose verbs are the lifecycle's) because an
edit is one verb with its own rules:

- Who edits: the task's assignee, its creator, or a lead of its team.
- Title, description, due date and priority: any of them. They say what the work is and when
  it is wanted, which the person doing it knows best.
- Required skill and level, and the reviewer: its creator or a lead only. The assignee
  choosing who reviews their own work, or lowering the bar they are held to, would defeat
  four-eyes; and the named reviewer is never the assignee and must review in the team.
- Lowering or raising the skill of an assigned task keeps its assignee qualified: the change
  is refused while the assignee lacks the skill at that level (unassign first).
- A workflow run's task takes its skill and level from its step, and is reviewed by the run's
  own review step: those stay as the step says (change the template). Its title,
  description, due date and priority may be edited like any task's.
- A finished (done or cancelled) task is not edited: its history is the record.
- The form carries the task's `updated_at` as it was shown; if the task changed since (an
  edit, a move, a decision), the edit is refused and nothing is written.

Every changed field is a TaskChange row (who, when, old → new as people read them); an edit
that changes nothing writes nothing. Saving bumps `updated_at`, which is what an open board's
poll fingerprints, so the card refreshes there.
"""

from collections.abc import Iterable
from http import HTTPStatus

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.core.refusals import Forbidden, Refused
from apps.people import selectors as people
from apps.people.models import PersonSkill, User

from .models import FINAL_STATES, Priority, Task, TaskChange

# Fields anyone who may edit the task may change, and those only its creator or a lead may.
WORK_FIELDS = ("title", "description", "due_at", "priority")
GATE_FIELDS = ("required_skill", "min_level", "reviewer")
EDITABLE = WORK_FIELDS + GATE_FIELDS
# Fields a workflow run's task takes from its step.
STEP_FIELDS = frozenset(GATE_FIELDS)

LABELS = {
    "title": gettext_lazy("Title"),
    "description": gettext_lazy("Description"),
    "due_at": gettext_lazy("Due date"),
    "priority": gettext_lazy("Priority"),
    "required_skill": gettext_lazy("Skill"),
    "min_level": gettext_lazy("Skill level"),
    "reviewer": gettext_lazy("Reviewer"),
}

STALE_EDIT = gettext_lazy(
    "Someone else changed this task since you opened the form. Nothing was saved; "
    "cancel and edit it again to see the latest."
)


def version_of(task: Task) -> str:
    """The version an edit form carries: the task's last change, to the microsecond."""
    return task.updated_at.isoformat() if task.updated_at else ""


def _is_creator(task: Task, user: User) -> bool:
    return task.created_by_id is not None and task.created_by_id == user.pk


def may_edit(*, task: Task, user: User) -> bool:
    """Whether the Edit button is offered: the assignee, the creator or a lead, while open."""
    if not user.is_authenticated or task.state in FINAL_STATES:
        return False
    return (
        (task.assignee_id is not None and task.assignee_id == user.pk)
        or _is_creator(task, user)
        or people.is_lead(team_id=task.team_id, user=user)
    )


def refuse_unless_editable(*, task: Task, by: User) -> None:
    """Refuse, with the reason, anyone who may not edit this task now."""
    if task.state in FINAL_STATES:
        raise Refused(_("A finished task can't be edited: its history is the record."))
    if not may_edit(task=task, user=by):
        raise Forbidden(_("Only the task's assignee, its creator or a team lead can edit it."))


def editable_fields(*, task: Task, user: User) -> frozenset[str]:
    """The fields this person may change on this task (empty: none, or may not edit)."""
    if not may_edit(task=task, user=user):
        return frozenset()
    fields = set(WORK_FIELDS)
    if _is_creator(task, user) or people.is_lead(team_id=task.team_id, user=user):
        fields |= set(GATE_FIELDS)
    if task.run_id is not None:
        fields -= STEP_FIELDS
    return frozenset(fields)


def _minute(value):
    """Due dates are edited to the minute (a datetime-local input): compare them so."""
    return value.replace(second=0, microsecond=0) if value else None


def _text(value) -> str:
    return (value or "").replace("\r\n", "\n").strip()


def _same(field: str, old, new) -> bool:
    if field == "due_at":
        return _minute(old) == _minute(new)
    if field == "description":
        return _text(old) == _text(new)
    if field in ("required_skill", "reviewer"):
        return getattr(old, "pk", None) == getattr(new, "pk", None)
    return old == new


def shown(field: str, value) -> str:
    """A field's value as the history shows it ("3 Dec 14:00", "High", "nobody")."""
    if field == "due_at":
        return timezone.localtime(value).strftime("%-d %b %H:%M") if value else _("none")
    if field == "priority":
        return str(Priority(value).label) if value in Priority.values else str(value)
    if field == "required_skill":
        return value.name if value else _("none")
    if field == "reviewer":
        return value.display_name if value else _("nobody")
    if field == "description":
        return _text(value)
    return str(value)


def _refuse_forbidden_fields(*, task: Task, by: User, fields: Iterable[str]) -> None:
    allowed = editable_fields(task=task, user=by)
    for field in fields:
        if field in allowed:
            continue
        if task.run_id is not None and field in STEP_FIELDS:
            if field == "reviewer":
                raise Refused(
                    _(
                        "A workflow step is reviewed by the run's own review step: it has no "
                        "reviewer to set."
                    )
                )
            raise Refused(
                _(
                    "This task's skill and level come from its workflow step: change them on "
                    "the workflow template."
                )
            )
        raise Forbidden(
            _("Only a lead or the task's creator can change the required skill or the reviewer.")
        )


def _refuse_unfit_reviewer(*, task: Task, reviewer: User | None) -> None:
    if reviewer is None:
        return
    if task.assignee_id == reviewer.pk:
        raise Refused(
            _("%(name)s is doing this task: someone else must review it.")
            % {"name": reviewer.display_name}
        )
    if not people.can_review(team_id=task.team_id, user=reviewer):
        raise Refused(
            _("%(name)s can't review in %(team)s: only its reviewers and leads review.")
            % {"name": reviewer.display_name, "team": task.team.name}
        )


def _refuse_unqualified_assignee(*, task: Task, skill, level: int) -> None:
    """An assigned task's assignee must still have the skill it asks for."""
    if task.assignee_id is None or skill is None:
        return
    has = PersonSkill.objects.filter(
        user_id=task.assignee_id, skill=skill, level__gte=level
    ).exists()
    if not has:
        raise Refused(
            _(
                "%(name)s doesn't have %(skill)s at level %(level)d: unassign the task first, "
                "or ask for a lower level."
            )
            % {"name": task.assignee.display_name, "skill": skill.name, "level": level}
        )


@transaction.atomic
def edit_task(*, task: Task, by: User, version: str, **values) -> list[TaskChange]:
    """Change some of a task's fields (`values`: field name → new value, EDITABLE only);
    returns the history rows written, one per field that changed (none: nothing saved).

    `version` is version_of(task) as the form showed it: a task changed since is refused."""
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise ValueError(f"Not editable: {sorted(unknown)}")
    task = (
        Task.objects.select_for_update(of=("self",))
        .select_related("team", "assignee")
        .get(pk=task.pk)
    )
    refuse_unless_editable(task=task, by=by)
    if version != version_of(task):
        raise Refused(str(STALE_EDIT), status=HTTPStatus.CONFLICT)
    if "title" in values:
        values["title"] = (values["title"] or "").strip()
        if not values["title"]:
            raise Refused(_("A task needs a title."))
    if "description" in values:
        values["description"] = _text(values["description"])
    changed = {
        field: value
        for field, value in values.items()
        if not _same(field, getattr(task, field), value)
    }
    if not changed:
        return []
    _refuse_forbidden_fields(task=task, by=by, fields=changed)
    if "min_level" in changed and not 1 <= changed["min_level"] <= 5:
        raise Refused(_("Level is from 1 to 5."))
    if "reviewer" in changed:
        _refuse_unfit_reviewer(task=task, reviewer=changed["reviewer"])
    if "required_skill" in changed or "min_level" in changed:
        _refuse_unqualified_assignee(
            task=task,
            skill=changed.get("required_skill", task.required_skill),
            level=changed.get("min_level", task.min_level),
        )
    now = timezone.now()
    rows = [
        TaskChange(
            task=task,
            by=by,
            at=now,
            field=field,
            old=shown(field, getattr(task, field)),
            new=shown(field, value),
        )
        for field, value in changed.items()
    ]
    for field, value in changed.items():
        setattr(task, field, value)
    task.full_clean(exclude=[f.name for f in Task._meta.fields if f.name not in changed])
    task.save(update_fields=[*changed, "updated_at"])
    TaskChange.objects.bulk_create(rows)
    return rows
