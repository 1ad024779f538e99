"""Every change to a task happens here: one function per verb a user would say.

Each verb locks the task row, checks the transition is legal in this state and allowed for
this person (django-fsm conditions and permissions), applies it (django-fsm-log records who,
when, from, to and the note), keeps the assignee's active-task counter in step, writes the
notifications it causes, and hands finished work to the run. Anything refused raises an
apps.core.refusals.Refused (TaskActionRefused for a transition) with a sentence a person can
read and its HTTP status, and changes nothing.
"""

from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlencode

from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, TransitionNotAllowed, can_proceed, has_transition_perm

from apps.core import fields as typed_fields
from apps.core.refusals import Forbidden, Refused
from apps.core.retry import atomic_retrying
from apps.notifications.models import Kind
from apps.notifications.services.outbox import notify
from apps.people import selectors as people
from apps.people.models import Role, User
from apps.people.system import AUTOMATION_USERNAME, automation_user, is_automation

from . import events, four_eyes, limits, markdown, positions, watches, writes
from .models import ACTIVE_STATES, ChecklistItem, Comment, Outcome, Task, TaskWatch, state_label
from .signals import task_transitioned


class TaskActionRefused(Refused, TransitionNotAllowed):
    """A transition refused; str() is the sentence to show, `status` 403 when the person may
    not take it (their role, four-eyes), 409 when the task can't take it now (its state, a
    stale tab, someone's capacity).

    Still a django-fsm TransitionNotAllowed, so code written against django-fsm catches it.
    """


class WipLimitRefused(TaskActionRefused):
    """Refused by a hard WIP limit: the column is full (apps.tasks.limits), not the person."""


STALE_MESSAGE = _(
    "Someone else changed this task first: it is now %(state)s. Nothing was changed; "
    "reload to see the latest."
)

# Outcomes a task may be completed with when no workflow step narrows them.
DEFAULT_COMPLETE_OUTCOMES = (Outcome.DONE, Outcome.PASSED, Outcome.FAILED)


@dataclass(frozen=True)
class Action:
    """A transition as people meet it: read from its @transition in apps/tasks/models.py."""

    name: str
    label: str
    refused_for_role: str
    # The state it leaves the task in; None when the transition returns it (resume: the state
    # the task was held from), see target_of.
    target: str | None
    style: str = ""
    # Why it can't be taken when its conditions are not met (the task's kind, not the person);
    # a function of the task when that depends on what the task is.
    unmet: str | Callable[[Task], str] = ""


def _actions() -> dict[str, Action]:
    """Task's transitions, in the order the model declares them (the order of the lifecycle)."""
    actions = {}
    for name, method in vars(Task).items():
        meta = getattr(method, "_django_fsm", None)
        if meta is None:
            continue
        # One @transition per method: every source shares its target and custom.
        transition = next(iter(meta.transitions.values()))
        custom = transition.custom
        # A target computed when the transition runs (django-fsm's RETURN_VALUE) has get_state.
        returned = hasattr(transition.target, "get_state")
        actions[name] = Action(
            name=name,
            label=custom["label"],
            refused_for_role=custom["refused"],
            target=None if returned else transition.target,
            style=custom.get("style", ""),
            unmet=custom.get("unmet", ""),
        )
    return actions


ACTIONS: dict[str, Action] = _actions()


def target_of(*, task: Task, action: str) -> str:
    """The state the action would leave this task in."""
    target = ACTIONS[action].target
    return task.returned_state(action) if target is None else target


def refuse_if_stale(*, task: Task, expected_state: str | None) -> None:
    """The person acted on a page showing `expected_state`; refuse if the task moved since."""
    if expected_state and expected_state != task.state:
        raise stale_refusal(state=task.state)


def stale_refusal(*, state: str) -> "TaskActionRefused":
    return TaskActionRefused(STALE_MESSAGE % {"state": state_label(state)})


def _lock(task: Task) -> Task:
    # Lock the task row only: joining the team here would lock the team row on PostgreSQL too
    # and make every transition in a team wait for every other. The team's WIP limits come
    # along in a subquery, so a team without limits costs no extra query.
    # Whether the team has webhooks comes along the same way (events.with_hooks_known).
    return events.with_hooks_known(limits.annotate_limits(Task.objects.select_for_update())).get(
        pk=task.pk
    )


def _check(
    task: Task, name: str, by: User | None, expected_state: str | None, by_report: bool = False
) -> None:
    refuse_if_stale(task=task, expected_state=expected_state)
    method = getattr(task, name)
    action = ACTIONS[name]
    if not can_proceed(method, check_conditions=False):
        raise TaskActionRefused(
            _("Can't %(action)s a task that is %(state)s.")
            % {"action": str(action.label).lower(), "state": state_label(task.state)}
        )
    if not by_report:
        refuse_finishing_external_step(task=task, name=name, by=by)
    if not can_proceed(method):
        raise TaskActionRefused(action.unmet(task) if callable(action.unmet) else action.unmet)
    # by=None is Relay itself (the run engine, auto-assignment), as is Relay automation (an
    # automated step's work): the state rules still apply, the per-person permission does not.
    if by is not None and not is_automation(by) and not has_transition_perm(method, by):
        raise TaskActionRefused(action.refused_for_role, status=HTTPStatus.FORBIDDEN)
    if name in CRITERIA_GUARDED:
        refuse_open_required_items(task=task, by=by)
    if by is not None and name in four_eyes.GUARDED:
        # Four-eyes across the run holds for leads too: nobody decides on their own work.
        conflict = four_eyes.conflict_of(task=task, user=by)
        if conflict is not None:
            raise TaskActionRefused(conflict.sentence(by=by), status=HTTPStatus.FORBIDDEN)


# --- external steps --------------------------------------------------------------------------
# An external step's task is finished by its system's report (apps.workflows.services.
# report_external_result and its timeout), which keeps the message and link and holds the
# once-only and timeout rules. Relay automation holds the task and a service token acts as it,
# so without this the API's transitions (or a button) would finish it around all of that. A
# lead may still settle it by hand (CI is down and they know better): logged as such.
EXTERNAL_FINISHES = ("submit", "complete", "approve", "request_changes", "reject")
WAITS_FOR_REPORT = _("This step waits for %(system)s's report: it is finished by POST %(path)s.")
LEAD_MAY_SETTLE = _("A lead of the team may settle it by hand.")
SETTLED_BY_HAND = _("Settled by hand by %(name)s instead of %(system)s's report.")


def external_result_path(task_id: int) -> str:
    """Where an external step's system reports (the API's steps router)."""
    return f"/api/v1/steps/{task_id}/result"


def _system_of(task: Task) -> str:
    return task.step.system or _("the outside system")


def settles_by_hand(*, task: Task, name: str, by: User | None) -> bool:
    """A lead (a person, not Relay automation) finishing an external step's task by hand."""
    return (
        task.is_external_step
        and name == "complete"
        and by is not None
        and not is_automation(by)
        and people.is_lead(team_id=task.team_id, user=by)
    )


def refuse_finishing_external_step(*, task: Task, name: str, by: User | None) -> None:
    """Only the report finishes an external step's task; a lead may complete it by hand."""
    if not task.is_external_step or name not in EXTERNAL_FINISHES:
        return
    if settles_by_hand(task=task, name=name, by=by):
        return
    sentence = WAITS_FOR_REPORT % {
        "system": _system_of(task),
        "path": external_result_path(task.pk),
    }
    if by is not None and not is_automation(by):
        sentence = f"{sentence} {LEAD_MAY_SETTLE}"
    raise TaskActionRefused(sentence, status=HTTPStatus.CONFLICT)


# The transitions that say "the work is finished": a required checklist item must be ticked
# first. A review is decided, not finished by its reviewer's ticks, so it is not held up.
CRITERIA_GUARDED = ("submit", "complete")
OPEN_REQUIRED_ITEMS = _("Tick the required items first: %(items)s.")


def open_required_items(task: Task) -> list[str]:
    """The texts of the task's required checklist items nobody has ticked yet, in order."""
    return list(task.checklist.filter(required=True, done=False).values_list("text", flat=True))


def refuse_open_required_items(*, task: Task, by: User | None) -> None:
    """Finished work meets its step's criteria: refuse while a required item is open, naming
    them. An automated step's action and Relay automation tick nothing, so they aren't held to
    it (its checklist is what the action checks)."""
    if task.is_automated_step or task.is_external_step or (by is not None and is_automation(by)):
        return
    items = open_required_items(task)
    if items:
        raise TaskActionRefused(OPEN_REQUIRED_ITEMS % {"items": ", ".join(items)})


MISSING_OUTPUTS = _(
    "%(step)s records %(fields)s when it is finished: finish it from the task's page or "
    "drawer (Complete or Submit for review), where they are asked for."
)


def output_specs(task: Task) -> list[dict]:
    """The outputs the task's workflow step records (apps.core.fields specs)."""
    if task.step_id is None or not task.step.output_fields:
        return []
    return typed_fields.clean_spec(list(task.step.output_fields))[0]


def checked_outputs(*, task: Task, by: User | None, outputs: dict | None) -> dict | None:
    """The outputs a finishing task records, cleaned against its step's output fields: every
    problem (a missing required value, a mistyped one, an unknown name) refuses with 422.

    Without outputs (a board drag, an API transition naming none) a step with required outputs
    is refused with where to fill them in; an automated step's action and Relay automation
    record none of their own and are let through. None: nothing to record."""
    specs = output_specs(task)
    if outputs is None:
        if task.is_automated_step or (by is not None and is_automation(by)):
            return None
        missing = [spec["label"] for spec in specs if spec["required"] and "default" not in spec]
        if missing:
            raise TaskActionRefused(
                MISSING_OUTPUTS % {"step": task.step.name, "fields": ", ".join(missing)},
                status=HTTPStatus.UNPROCESSABLE_ENTITY,
            )
        outputs = {}
    values, problems = typed_fields.clean_values(specs, outputs)
    if problems:
        raise TaskActionRefused(" ".join(problems), status=HTTPStatus.UNPROCESSABLE_ENTITY)
    return values if specs or values else None


def _move_capacity(*, released: int | None, taken: int | None) -> None:
    """Move one active task from one person's counter to another's, in id order.

    The database refuses a counter above capacity (CheckConstraint), which is what keeps two
    concurrent assignments from overfilling anyone. Relay automation has no counter (it
    takes every automated step's task; the UPDATE matches no row for it, so it locks none).
    """
    if released == taken:
        return
    changes = sorted([(pk, delta) for pk, delta in ((released, -1), (taken, +1)) if pk is not None])
    for pk, delta in changes:
        if delta > 0:
            try:
                with transaction.atomic():
                    User.objects.filter(pk=pk).exclude(username=AUTOMATION_USERNAME).update(
                        active_count=F("active_count") + 1, last_assigned_at=timezone.now()
                    )
            except IntegrityError:
                person = User.objects.get(pk=pk)
                raise TaskActionRefused(
                    # Worded as the assignment engine words it, so every path says the same.
                    _("%(name)s can't take this task: at capacity %(active)d/%(capacity)d.")
                    % {
                        "name": person.display_name,
                        "active": person.active_count,
                        "capacity": person.capacity,
                    }
                ) from None
        else:
            User.objects.filter(pk=pk, active_count__gt=0).update(
                active_count=F("active_count") - 1
            )


def _active_holder(task: Task) -> int | None:
    return task.assignee_id if task.state in ACTIVE_STATES else None


_SAVED_FIELDS = [
    f for f in Task._meta.concrete_fields if not f.primary_key and f.name != "updated_at"
]


@transaction.atomic
def _apply(
    *,
    task: Task,
    name: str,
    by: User | None,
    note: str = "",
    expected_state: str | None = None,
    vetted: bool = False,
    by_report: bool = False,
    outputs: dict | None = None,
    **kwargs,
) -> Task:
    locked = _lock(task)
    _check(locked, name, by, expected_state, by_report=by_report)
    if name in CRITERIA_GUARDED:
        outputs = checked_outputs(task=locked, by=by, outputs=outputs)
    if not by_report and settles_by_hand(task=locked, name=name, by=by):
        settled = SETTLED_BY_HAND % {"name": by.display_name, "system": _system_of(locked)}
        note = f"{settled} {note.strip()}".strip()
    wip = limits.verdict(
        task=locked, action=name, target=target_of(task=locked, action=name), by=by
    )
    if wip.refused:
        raise WipLimitRefused(wip.refused)
    holder_before = _active_holder(locked)
    # The person taken off the task is told (after the transition the task no longer says who).
    locked.previous_assignee = locked.assignee if name == "unassign" else None
    before = {f.attname: getattr(locked, f.attname) for f in _SAVED_FIELDS}
    source = locked.state
    if outputs is not None:
        locked.outputs = outputs
    try:
        getattr(locked, name)(by=by, description=note.strip() or None, **kwargs)
        _move_capacity(released=holder_before, taken=_active_holder(locked))
        # Only what the transition changed (and updated_at): the row was just read under the
        # lock, so rewriting the other columns (and their indexes) would change nothing.
        changed = [f.name for f in _SAVED_FIELDS if getattr(locked, f.attname) != before[f.attname]]
        locked.save(update_fields=[*changed, "updated_at"])
    except ConcurrentTransition:
        current = Task.objects.filter(pk=task.pk).values_list("state", flat=True).first()
        raise stale_refusal(state=current or "") from None
    log_id = writes.log_transition(task=locked, name=name, source=source, by=by, note=note)
    _after_transition(
        task=locked, name=name, by=by, note=note, vetted=vetted, log_id=log_id, source=source
    )
    # Said next to the result (a soft limit, a send-back over the limit): see apps.tasks.limits.
    locked.wip_warning = wip.warning
    return locked


# Who hears about a transition: (kind, recipients) per transition name.
_TOLD = {
    "assign": (Kind.ASSIGNED, lambda task: [task.assignee]),
    "unassign": (Kind.UNASSIGNED, lambda task: [getattr(task, "previous_assignee", None)]),
    "submit": (Kind.REVIEW_REQUESTED, lambda task: _reviewers_for(task)),
    "approve": (Kind.APPROVED, lambda task: _decision_recipients(task)),
    "request_changes": (Kind.CHANGES_REQUESTED, lambda task: _decision_recipients(task)),
    "reject": (Kind.REJECTED, lambda task: _decision_recipients(task)),
}


def _decision_recipients(task: Task) -> list[User]:
    """Whoever did the reviewed work: the assignee, or for a review step (whose assignee is the
    reviewer) the doers of the steps it reviews."""
    return four_eyes.doers(task=task) if task.is_review_step else [task.assignee]


def _after_transition(
    *, task: Task, name: str, by: User | None, note: str, vetted: bool, log_id: int, source: str
) -> None:
    # The same decision apply_in_bulk makes for each of its tasks (apps.tasks.writes).
    told = writes.notices(told=_TOLD, task=task, name=name, by=by, note=note, log_id=log_id)
    already: list[User] = []
    if told is not None:
        kind, recipients, key, payload = told
        notify(kind=kind, recipients=recipients, key=key, task=task, payload=payload)
        already = recipients
    if name in _DECISIONS:
        _tell_watchers_of_decision(
            task=task, name=name, by=by, note=note, log_id=log_id, already=already
        )
    events.transitioned(task=task, name=name, source=source, by=by, note=note)
    task_transitioned.send(sender=Task, task=task, name=name, by=by, vetted=vetted, note=note)


# A review decision as a watcher hears it: "Grace approved a task you watch."
_DECISIONS = {
    "approve": _("approved"),
    "request_changes": _("asked for changes to"),
    "reject": _("rejected"),
}


def _tell_watchers_of_decision(
    *, task: Task, name: str, by: User | None, note: str, log_id: int, already: list[User]
) -> None:
    """Watchers hear of a decision, except who made it and whoever was told already."""
    skip = {p.pk for p in already if p} | ({by.pk} if by else set())
    watchers = [p for p in watches.watchers(task=task) if p.pk not in skip]
    notify(
        kind=Kind.DECIDED,
        recipients=watchers,
        key=f"{Kind.DECIDED}:task:{task.pk}:log:{log_id}",
        task=task,
        payload={
            "by": writes.by_name(by),
            "note": note,
            "title": task.title,
            "decision": str(_DECISIONS[name]),
        },
    )


def _reviewers_for(task: Task) -> list[User]:
    if task.reviewer_id:
        return [task.reviewer]
    return list(
        User.objects.filter(
            memberships__team_id=task.team_id,
            memberships__role__in=[Role.REVIEWER, Role.LEAD],
            is_active=True,
        ).exclude(pk=task.assignee_id)
    )


def apply_in_bulk(**kwargs) -> dict[int, int]:
    """One transition applied to many locked tasks at once, writing what `_apply` writes for
    each (the batch auto-assigner): see apps.tasks.writes.apply_in_bulk for the arguments."""
    return writes.apply_in_bulk(told=_TOLD, **kwargs)


# --- the verbs -------------------------------------------------------------------------------


def assign_to(
    *,
    task: Task,
    assignee: User,
    by: User | None,
    note: str = "",
    expected_state: str | None = None,
    vetted: bool = False,
) -> Task:
    """Hand a `todo` task to a person. Leads assign anyone; a member may take it themselves.

    Eligibility (skills, availability) is the assignment engine's job: it passes
    `vetted=True` when it chose the person, and refuses (through task_transitioned) anyone
    else's assignment of an ineligible person. This enforces team membership, roles and
    capacity.
    """
    if people.role_in(team_id=task.team_id, user=assignee) is None:
        raise TaskActionRefused(
            _("%(name)s is not a member of this team.") % {"name": assignee.display_name}
        )
    if (
        by is not None
        and assignee.pk != by.pk
        and not people.is_lead(team_id=task.team_id, user=by)
    ):
        raise TaskActionRefused(ACTIONS["assign"].refused_for_role, status=HTTPStatus.FORBIDDEN)
    return _apply(
        task=task,
        name="assign",
        by=by,
        note=note,
        expected_state=expected_state,
        vetted=vetted,
        assignee=assignee,
    )


def hand_to_automation(*, task: Task) -> Task:
    """An automated step's new task: assigned to Relay automation and started by it, through
    the lifecycle like anyone's (two logged transitions), before its action runs."""
    robot = automation_user()
    task = _apply(task=task, name="assign", by=robot, vetted=True, assignee=robot)
    return _apply(task=task, name="start", by=robot)


def unassign(
    *, task: Task, by: User | None, note: str = "", expected_state: str | None = None
) -> Task:
    return _apply(task=task, name="unassign", by=by, note=note, expected_state=expected_state)


def start(
    *, task: Task, by: User | None, note: str = "", expected_state: str | None = None
) -> Task:
    return _apply(task=task, name="start", by=by, note=note, expected_state=expected_state)


def submit(
    *,
    task: Task,
    by: User | None,
    note: str = "",
    expected_state: str | None = None,
    outputs: dict | None = None,
) -> Task:
    """Hand finished work to review; reviewers (or the named reviewer) are asked. `outputs`
    (the step's, cleaned by apps.workflows.services.finish_step) are recorded with it."""
    return _apply(
        task=task,
        name="submit",
        by=by,
        note=note,
        expected_state=expected_state,
        outputs=outputs,
    )


def complete(
    *,
    task: Task,
    by: User | None,
    outcome: str = Outcome.DONE,
    note: str = "",
    expected_state: str | None = None,
    by_report: bool = False,
    outputs: dict | None = None,
) -> Task:
    """Finish work that needs no review, with its outcome (done, passed or failed), and the
    step's outputs (cleaned by apps.workflows.services.finish_step) when it records any.

    `by_report=True` only from apps.workflows.services: an external step's report (or its
    timeout) finishing the task, which no other caller may do (refuse_finishing_external_step).
    """
    allowed = allowed_outcomes(task)
    if outcome not in allowed:
        raise TaskActionRefused(
            _("Choose an outcome: %(choices)s.")
            % {"choices": ", ".join(str(Outcome(o).label) for o in allowed)}
        )
    return _apply(
        task=task,
        name="complete",
        by=by,
        note=note,
        expected_state=expected_state,
        by_report=by_report,
        outcome=outcome,
        outputs=outputs,
    )


def approve(
    *, task: Task, by: User | None, note: str = "", expected_state: str | None = None
) -> Task:
    """Approve reviewed work (four-eyes: never the assignee)."""
    return _apply(task=task, name="approve", by=by, note=note, expected_state=expected_state)


def request_changes(
    *, task: Task, by: User | None, note: str = "", expected_state: str | None = None
) -> Task:
    """Send reviewed work back to its assignee for rework."""
    return _apply(
        task=task, name="request_changes", by=by, note=note, expected_state=expected_state
    )


def reject(
    *, task: Task, by: User | None, note: str = "", expected_state: str | None = None
) -> Task:
    return _apply(task=task, name="reject", by=by, note=note, expected_state=expected_state)


def hold(*, task: Task, by: User | None, note: str = "", expected_state: str | None = None) -> Task:
    return _apply(task=task, name="hold", by=by, note=note, expected_state=expected_state)


def resume(
    *, task: Task, by: User | None, note: str = "", expected_state: str | None = None
) -> Task:
    """Back to the state it was held from (capacity permitting, if that state is active)."""
    return _apply(task=task, name="resume", by=by, note=note, expected_state=expected_state)


def cancel(
    *, task: Task, by: User | None, note: str = "", expected_state: str | None = None
) -> Task:
    return _apply(task=task, name="cancel", by=by, note=note, expected_state=expected_state)


def allowed_outcomes(task: Task) -> tuple[str, ...]:
    """A workflow step's task finishes with its step kind's outcomes; others with the default."""
    if task.step_id is not None:
        return tuple(task.step.outcomes)
    return DEFAULT_COMPLETE_OUTCOMES


VERBS: dict[str, Callable[..., Task]] = {
    "unassign": unassign,
    "start": start,
    "submit": submit,
    "complete": complete,
    "approve": approve,
    "request_changes": request_changes,
    "reject": reject,
    "hold": hold,
    "resume": resume,
    "cancel": cancel,
}


def perform(
    *,
    task: Task,
    action: str,
    by: User | None,
    note: str = "",
    expected_state: str | None = None,
    **kwargs,
) -> Task:
    """Run the named verb (from a button or a dragged card)."""
    if action == "assign":
        return assign_to(
            task=task,
            assignee=kwargs.get("assignee") or by,
            by=by,
            note=note,
            expected_state=expected_state,
        )
    verb = VERBS.get(action)
    if verb is None:
        raise TaskActionRefused(_("Unknown action."))
    return verb(task=task, by=by, note=note, expected_state=expected_state, **kwargs)


def perform_retrying(**kwargs) -> Task:
    """perform() in a transaction of its own, run again when the database breaks a deadlock
    with it (apps.core.retry): the task page's buttons meet the board's drags on the same
    rows, and neither may answer 500."""
    return atomic_retrying(
        lambda: perform(**kwargs),
        refusal=_("Someone else changed this task at the same moment; try again."),
    )


@transaction.atomic
def create_task(
    *,
    team,
    title: str,
    by: User | None,
    description: str = "",
    required_skill=None,
    min_level: int = 1,
    requires_review: bool = False,
    priority: int = 2,
    due_at=None,
    checklist: list[str | tuple[str, bool]] | None = None,
    **extra,
) -> Task:
    """A new task; `checklist` holds its criteria, each a text or (text, required)."""
    task = Task(
        team=team,
        title=title.strip(),
        description=description,
        required_skill=required_skill,
        min_level=min_level,
        requires_review=requires_review,
        priority=priority,
        due_at=due_at,
        created_by=by,
        **extra,
    )
    task.full_clean(exclude=["state"])
    if "position" not in extra:
        # At the bottom of its column, computed in the INSERT itself (no query of its own).
        task.position = positions.below_column(team_id=task.team_id, state=task.state)
    task.save()
    entries = [(item, False) if isinstance(item, str) else item for item in checklist or []]
    ChecklistItem.objects.bulk_create(
        ChecklistItem(task=task, text=text, required=required, position=i)
        for i, (text, required) in enumerate(entries)
    )
    return task


@transaction.atomic
def add_comment(*, task: Task, author: User, body: str) -> Comment:
    """Post a comment: rendered once (Markdown, sanitised), the author starts watching the task
    (unless they unwatched it), the team members it @mentions are told, and the watchers hear
    of it — nobody twice, nobody about their own comment."""
    body = body.strip()
    if not body:
        raise ValueError(_("Write something before posting."))
    mentionable = watches.mentionable(task=task) if "@" in body else {}
    rendered = markdown.render(body, link=lambda name: _mention_link(mentionable.get(name), task))
    comment = Comment(task=task, author=author, body=body, body_html=rendered.html)
    comment.full_clean()
    comment.save()
    TaskWatch.objects.bulk_create([TaskWatch(task=task, user=author)], ignore_conflicts=True)
    payload = {"by": writes.by_name(author), "note": body, "title": task.title}
    mentioned = [
        mentionable[name] for name in rendered.mentioned if mentionable[name].pk != author.pk
    ]
    notify(
        kind=Kind.MENTIONED,
        recipients=mentioned,
        key=f"{Kind.MENTIONED}:comment:{comment.pk}",
        task=task,
        payload=payload,
    )
    skip = {author.pk} | {p.pk for p in mentioned}
    notify(
        kind=Kind.COMMENTED,
        recipients=[p for p in watches.watchers(task=task) if p.pk not in skip],
        key=f"{Kind.COMMENTED}:comment:{comment.pk}",
        task=task,
        payload=payload,
    )
    return comment


def _mention_link(person: User | None, task: Task) -> tuple[str, str] | None:
    """Where an @mention points: the team's board filtered to that person's tasks (there is
    no person page)."""
    if person is None:
        return None
    url = (
        reverse("boards:board", args=[task.team.slug])
        + "?"
        + urlencode({"assignee": person.username})
    )
    return url, person.display_name


def may_watch(*, task: Task, user: User) -> bool:
    """Team members watch a task: they are the ones who can hear about it."""
    return people.role_in(team_id=task.team_id, user=user) is not None


@transaction.atomic
def set_watching(*, task: Task, user: User, watching: bool) -> bool:
    """Watch or unwatch a task. An unwatch is remembered, so neither being its assignee nor
    commenting again makes the person hear of it until they watch it again."""
    if not may_watch(task=task, user=user):
        raise Forbidden(_("Only members of the task's team watch it."))
    TaskWatch.objects.update_or_create(task=task, user=user, defaults={"watching": watching})
    return watching


def may_tick_checklist(*, task: Task, user: User) -> bool:
    """Members of the task's team tick its checklist; staff looking in from outside don't."""
    return people.role_in(team_id=task.team_id, user=user) is not None


@transaction.atomic
def toggle_checklist_item(*, item: ChecklistItem, by: User, done: bool) -> ChecklistItem:
    """Tick or untick a checklist item (see may_tick_checklist for who may); the task is
    touched so open boards refresh its card."""
    if not may_tick_checklist(task=item.task, user=by):
        raise Forbidden(_("Only team members tick checklist items."))
    ChecklistItem.objects.filter(pk=item.pk).update(done=done)
    Task.objects.filter(pk=item.task_id).update(updated_at=timezone.now())
    item.done = done
    return item
