"""Reads about tasks, and who may see which."""

from datetime import datetime
from types import SimpleNamespace

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Count, F, Func, Lookup, Prefetch, Q, QuerySet, Subquery
from django_fsm import can_proceed, has_transition_perm
from django_fsm_log.models import StateLog

from apps.people import selectors as people
from apps.people.models import Membership, Role, User

from . import edits, watches
from .models import ACTIVE_STATES, OPEN_STATES, REVIEW_STEP_KIND, Attachment, State, Task
from .services import ACTIONS, EXTERNAL_FINISHES, Action, settles_by_hand


def visible_tasks(user: User) -> QuerySet[Task]:
    """Members see their teams' tasks only; staff see all; anonymous users see nothing."""
    if not user.is_authenticated:
        return Task.objects.none()
    if user.is_staff:
        return Task.objects.all()
    return Task.objects.filter(team__memberships__user=user)


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
        # content_type too: each row's get_state_display() reads it (one query per row).
        .select_related("by", "content_type")
        .order_by("timestamp", "id")
    )


def visible_attachments(user: User) -> QuerySet[Attachment]:
    """Attachments (not removed) of the tasks this user may see."""
    return Attachment.objects.filter(
        task__in=visible_tasks(user), removed_at__isnull=True
    ).select_related("task__team")


def task_files(task: Task) -> list[Attachment]:
    """Every file ever attached to the task (removed ones too, for the history), with who
    attached and removed it: one query for the history, the Files section and its buttons."""
    return list(task.attachments.select_related("uploaded_by", "removed_by"))


def attachment_events(task: Task, files: list[Attachment] | None = None) -> list[dict]:
    """Who attached and removed which file, oldest first, for the task's history."""
    events = []
    for a in task_files(task) if files is None else files:
        events.append({"at": a.created_at, "by": a.uploaded_by, "verb": "attached", "name": a.name})
        if a.removed_at:
            events.append(
                {"at": a.removed_at, "by": a.removed_by, "verb": "removed", "name": a.name}
            )
    return sorted(events, key=lambda e: e["at"])


def _live_attachments() -> QuerySet[Attachment]:
    return Attachment.objects.filter(removed_at__isnull=True).select_related("uploaded_by")


def removable_attachments(
    *, task: Task, user: User, files: list[Attachment] | None = None
) -> set[int]:
    """The ids of the task's attachments this user may remove (theirs; a lead: all)."""
    live = [a for a in (task_files(task) if files is None else files) if a.removed_at is None]
    if not people.is_lead(team_id=task.team_id, user=user):
        live = [a for a in live if a.uploaded_by_id == user.pk]
    return {a.pk for a in live}


def task_timeline(task: Task, files: list[Attachment] | None = None) -> list:
    """The task's history in time order: its transitions (django-fsm-log), its field changes
    (TaskChange) and its files attached and removed, interleaved; each entry has `when`, a
    change also `field`, a file event `verb` and `name`."""
    entries = list(task_history(task))
    for log in entries:
        log.when = log.timestamp
    changes = list(task.changes.select_related("by"))
    for change in changes:
        change.when = change.at
        change.label = edits.LABELS.get(change.field, change.field)
    events = [
        SimpleNamespace(when=event["at"], **event) for event in attachment_events(task, files)
    ]
    return sorted(entries + changes + events, key=lambda entry: entry.when)


def available_actions(
    *, task: Task, user: User, among: tuple[str, ...] | None = None
) -> list[Action]:
    """The transitions this user may take on this task now, in lifecycle order; `among`: only
    those of these names are looked at (a queue's row offers three, not every transition)."""
    if not user.is_authenticated:
        return []
    actions = []
    for name, action in ACTIONS.items():
        if among is not None and name not in among:
            continue
        # Only its report finishes an external step's task, or a lead by hand (the services'
        # rule, refuse_finishing_external_step): not offered to anyone else.
        if (
            name in EXTERNAL_FINISHES
            and task.is_external_step
            and not settles_by_hand(task=task, name=name, by=user)
        ):
            continue
        method = getattr(task, name)
        if can_proceed(method) and has_transition_perm(method, user):
            actions.append(action)
    return actions


def task_panels(*, task: Task, user: User) -> dict:
    """What the task page and the board's drawer show of a task, for this viewer.

    Assigning is left out of the actions: the assignment panel does it, with who and why.
    """
    from .attachments import may_attach
    from .services import allowed_outcomes, may_tick_checklist, may_watch, output_specs

    checklist = list(task.checklist.all())
    files = task_files(task)
    actions = [a for a in available_actions(task=task, user=user) if a.name != "assign"]
    finishing = any(a.name in ("complete", "submit") for a in actions)
    return {
        "task": task,
        "team": task.team,
        "history": task_timeline(task, files),
        "may_edit": edits.may_edit(task=task, user=user),
        "comments": task.comments.select_related("author").prefetch_related(
            Prefetch("attachments", queryset=_live_attachments())
        ),
        "attachments": [a for a in files if a.removed_at is None and a.comment_id is None],
        "removable": removable_attachments(task=task, user=user, files=files)
        if user.is_authenticated
        else set(),
        "may_attach": may_attach(task=task, user=user),
        "checklist": checklist,
        "checklist_has_required": any(item.required for item in checklist),
        "actions": actions,
        "outcomes": allowed_outcomes(task),
        # The step's outputs, asked for by Complete / Submit for review (apps.core.fields).
        "output_specs": output_specs(task) if finishing else [],
        "typed_outputs": task.outputs or {},
        "may_tick": may_tick_checklist(task=task, user=user),
        "watching": watches.is_watching(task=task, user=user),
        "may_watch": may_watch(task=task, user=user),
    }


# --- my work and reviews ---------------------------------------------------------------------


def _my_work_q(user: User) -> Q:
    """My active tasks, but a workflow's review step given to me: that is a decision, which
    waits in Awaiting my review (counted there, not twice)."""
    return Q(assignee=user, state__in=ACTIVE_STATES) & ~Q(step__kind=REVIEW_STEP_KIND)


def _awaiting_review_q(user: User, *, reusable: bool = False) -> Q:
    """In review, not my own work, and either named to me or open to the team's reviewers; or
    a workflow's review step given to me (its assignee is the reviewer).

    `reusable`: for SQL built once and run for anyone (apps.core.reusable_sql), where the
    person's teams must come from the query itself, not be folded in as a list."""
    if reusable:
        review_teams = Membership.objects.filter(
            user=user, role__in=[Role.REVIEWER, Role.LEAD]
        ).values("team_id")
        if connection.vendor == "postgresql":
            # `= ANY(ARRAY(subquery))`: the teams are read once, before the scan, and the
            # branch is an index range like the list's. `IN (subquery)` inside the OR is a
            # filter instead, and PostgreSQL then read every task in review in every team.
            return (
                Q(state=State.IN_REVIEW)
                & ~Q(assignee=user)
                & (Q(reviewer=user) | Q(_AnyOf(F("team_id"), review_teams), reviewer__isnull=True))
            ) | Q(assignee=user, state__in=ACTIVE_STATES, step__kind=REVIEW_STEP_KIND)
    else:
        # The ids themselves (the request has read the person's memberships already), not a
        # subquery: inside the OR a subquery is a filter, and PostgreSQL then reads every
        # task; with a list each branch is an index range and the three are OR-ed as bitmaps.
        review_teams = people.review_team_ids(user=user)
    return (
        Q(state=State.IN_REVIEW)
        & ~Q(assignee=user)
        & (Q(reviewer=user) | Q(reviewer__isnull=True, team_id__in=review_teams))
    ) | Q(assignee=user, state__in=ACTIVE_STATES, step__kind=REVIEW_STEP_KIND)


class _AnyOf(Lookup):
    """`column = ANY(ARRAY(subquery))` (PostgreSQL): a list of ids the query reads itself."""

    lookup_name = "any_of"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)


def my_work(*, user: User) -> QuerySet[Task]:
    """My active tasks, soonest due first (no due date last)."""
    return Task.objects.filter(_my_work_q(user)).order_by(
        F("due_at").asc(nulls_last=True), "-priority", "id"
    )


def awaiting_my_review(*, user: User) -> QuerySet[Task]:
    """Work waiting for my decision, soonest due first, then the longest waiting."""
    return Task.objects.filter(_awaiting_review_q(user)).order_by(
        F("due_at").asc(nulls_last=True), "updated_at", "id"
    )


def work_count_subqueries(*, user: User) -> dict[str, Subquery]:
    """The two header counts as subqueries (what work_counts counts), for a query that reads
    them along with something else: the board poll's fingerprint."""
    tasks = Task.objects.order_by().annotate(n=Func(F("pk"), function="COUNT"))
    return {
        "mine": Subquery(tasks.filter(_my_work_q(user)).values("n")),
        "review": Subquery(tasks.filter(_awaiting_review_q(user, reusable=True)).values("n")),
    }


def work_counts(*, user: User) -> dict[str, int]:
    """Both header counts (My work, Awaiting my review) in one query."""
    if not user.is_authenticated:
        return {"mine": 0, "review": 0}
    mine, review = _my_work_q(user), _awaiting_review_q(user)
    # Only the tasks either count reads (without the filter, every task of every team).
    return Task.objects.filter(mine | review).aggregate(
        mine=Count("pk", filter=mine), review=Count("pk", filter=review)
    )
