"""Board moves: a dropped card or a menu pick becomes one lifecycle transition.

The board has no state machine of its own. A move from one column to another names the verb a
person would say (drop on "In progress" = start, on "Done" from review = approve …) and calls
apps.tasks.services, which checks the role, four-eyes, the team's WIP limits and a stale tab;
this module adds what only the board knows: the order of cards within a column, and where a
lead edits the WIP limits.
"""

from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.assignment.services import single as assignment
from apps.core.refusals import Forbidden
from apps.core.retry import atomic_retrying
from apps.people import selectors as people
from apps.people.models import Role, Team, User
from apps.tasks import services as tasks
from apps.tasks.models import (
    LIMITABLE_STATES,
    OPEN_STATES,
    ChecklistItem,
    State,
    Task,
    WipLimits,
    state_label,
)
from apps.tasks.services import TaskActionRefused

# (from column, to column) → the transition a drop means.
DROPS: dict[tuple[str, str], str] = {
    (State.TODO, State.ASSIGNED): "assign",
    (State.ASSIGNED, State.TODO): "unassign",
    (State.ASSIGNED, State.IN_PROGRESS): "start",
    (State.IN_PROGRESS, State.IN_REVIEW): "submit",
    (State.IN_PROGRESS, State.DONE): "complete",
    (State.IN_REVIEW, State.DONE): "approve",
    (State.IN_REVIEW, State.IN_PROGRESS): "request_changes",
}
# Ordering more than this many cards in one drop is not something a person does.
MAX_ORDER = 500


@dataclass(frozen=True)
class MoveResult:
    task: Task
    action: str
    from_state: str
    warning: str = ""
    # The move did not happen, but what led to it is kept (auto-assign found nobody: the task
    # is marked waiting and the leads are told), so it is not raised as a refusal.
    refused: str = ""


def action_for_drop(*, task: Task, from_state: str, to_state: str) -> str:
    """The transition a drop means, or a refusal saying which way the card can go."""
    if from_state == to_state:
        raise TaskActionRefused(
            _("The card is already in %(col)s.") % {"col": state_label(to_state)}
        )
    if to_state == State.ON_HOLD and from_state in OPEN_STATES:
        return "hold"
    if to_state == State.CANCELLED:
        return "cancel"
    if from_state == State.ON_HOLD:
        if task.resumes_to == to_state:
            return "resume"
        raise TaskActionRefused(
            _("This task was put on hold from %(col)s: resume it there.")
            % {"col": state_label(task.resumes_to)}
        )
    action = DROPS.get((from_state, to_state))
    if action is None:
        raise TaskActionRefused(
            _("A card can't go from %(src)s straight to %(dst)s.")
            % {"src": state_label(from_state), "dst": state_label(to_state)}
        )
    return action


def act(
    *,
    task: Task,
    action: str,
    by: User,
    expected_state: str | None = None,
    note: str = "",
    outcome: str = "",
    order: list[int] | tuple[int, ...] = (),
    outputs: dict | None = None,
) -> MoveResult:
    """Take a transition from the board, a menu, the drawer or a queue page; `outputs` are the
    step's outputs from the drawer's finishing form (None: it asked for none).

    `assign` from the board means: a lead lets the assignment engine pick the best person; a
    member takes the task themselves.
    """
    if action not in tasks.ACTIONS:
        raise TaskActionRefused(_("Unknown action."))
    tasks.refuse_if_stale(task=task, expected_state=expected_state)
    # One transaction for the transition (WIP limits included, apps.tasks.limits) and the new
    # order: one commit (on PostgreSQL, one WAL flush per move instead of two). Run again if
    # the database breaks a deadlock with it (apps.core.retry): a drag never answers 500.
    return atomic_retrying(
        lambda: _act(
            task=task,
            action=action,
            by=by,
            note=note,
            outcome=outcome,
            order=order,
            outputs=outputs,
        ),
        refusal=column_conflict(),
    )


def column_conflict() -> str:
    return _("Someone else moved cards in this column at the same moment; try again.")


def _act(*, task, action, by, note, outcome, order, outputs=None) -> MoveResult:
    from_state = task.state
    ids = _clean_ids(order)
    if ids:
        # Before the transition locks anything (the task, the counters, the WIP row).
        lock_column(
            team_id=task.team_id,
            state=tasks.target_of(task=task, action=action),
            ids=ids,
            moving=task.pk,
        )
    if action == "assign":
        lead = people.is_lead(team_id=task.team_id, user=by)
        try:
            moved = assignment.assign(task=task, person=None if lead else by, by=by)
        except TaskActionRefused:
            # Someone took it between the page's read and the lock: say so, as every other
            # move does, rather than "Can't assign a task that is Assigned".
            now = Task.objects.filter(pk=task.pk).values_list("state", flat=True).first()
            if now != from_state:
                raise tasks.stale_refusal(state=now or "") from None
            raise
        if moved is None:
            return MoveResult(
                task=Task.objects.select_related("team").get(pk=task.pk),
                action=action,
                from_state=from_state,
                refused=_(
                    "Nobody on the team can take this now (skill, availability or capacity): "
                    "it stays in To do, waiting, and the leads were told."
                ),
            )
    else:
        extra = {"outcome": outcome} if action == "complete" and outcome else {}
        if action in ("complete", "submit") and outputs is not None:
            extra["outputs"] = outputs
        moved = tasks.perform(
            task=task,
            action=action,
            by=by,
            note=note,
            expected_state=from_state,
            **extra,
        )
    if ids:
        _rewrite_order(team_id=task.team_id, state=moved.state, ids=ids)
    warning = getattr(moved, "wip_warning", "")
    return MoveResult(task=moved, action=action, from_state=from_state, warning=warning)


def move(
    *,
    task: Task,
    from_state: str,
    to_state: str,
    by: User,
    order: list[int] | tuple[int, ...] = (),
) -> MoveResult:
    """A card dropped from one column onto another (from_state = what the person saw)."""
    tasks.refuse_if_stale(task=task, expected_state=from_state)
    action = action_for_drop(task=task, from_state=from_state, to_state=to_state)
    return act(task=task, action=action, by=by, expected_state=from_state, order=order)


# When the cards above a column's others need room, this much more is made: the next drops
# onto the top then fit above them without touching the rest of the column again.
HEADROOM = 64


def reorder(*, team: Team, state: str, ordered_ids: list[int] | tuple[int, ...]) -> None:
    """Persist the order a person arranged the top of a column in (a drop within a column).

    The ids are the cards the person could see, top first; they take the positions just above
    every other card of the column, whose own order is kept (shifted down, with HEADROOM to
    spare, only when there is no room above them). Ids from another team or column match
    nothing.
    """
    ids = _clean_ids(ordered_ids)
    if not ids:
        return

    def rearrange() -> None:
        lock_column(team_id=team.pk, state=state, ids=ids)
        _rewrite_order(team_id=team.pk, state=state, ids=ids)

    atomic_retrying(rearrange, refusal=column_conflict())


def _clean_ids(ordered_ids) -> list[int]:
    return list(dict.fromkeys(int(i) for i in ordered_ids))[:MAX_ORDER]


# pg_advisory_xact_lock keys of board columns: this tag in the high bits keeps them apart from
# any other advisory lock on the same database.
_COLUMN_LOCK_TAG = 0x5245_4C41 << 32
_STATE_NUMBER = {state: n for n, state in enumerate(State.values)}


def lock_column(*, team_id: int, state: str, ids: list[int], moving: int | None = None) -> None:
    """Lock what rewriting the order of a column will write, in the one order every move
    takes its locks in, so that two moves cannot each wait for the other:

    1. the column itself (a transaction-scoped advisory lock per team and state): moves onto
       one column take turns, so two drops on its top never compute the same free positions;
    2. the task rows, lowest id first: the moved card and the column's cards that the new
       order rewrites (all of them when their positions must make room), before
    3. the person counters and the team's WIP limits row, which the transition locks next
       (apps.tasks.services._apply), as every other transition does after its one task row.

    Two cards crossing between two columns used to lock each other's card in opposite orders
    (each move's reorder waiting for the card the other had just moved) and PostgreSQL broke
    the deadlock with an error page. SQLite has no row locks: its writers already take turns
    (IMMEDIATE transactions), so nothing is queried there.
    """
    if connection.vendor != "postgresql":
        return
    lowest, lowest_params = _lowest_other(team_id=team_id, state=state, ids=ids)
    qn = connection.ops.quote_name
    table, pk = qn(Task._meta.db_table), qn("id")
    marks = ", ".join(["%s"] * len(ids))
    # One statement: the column lock is an uncorrelated subquery, which PostgreSQL evaluates
    # once, before the scan (a one-time filter), so the rows are locked after it. Their
    # snapshot is from before any wait for it: a card another move brought into the column
    # meanwhile is missed here and locked by the rewrite itself, which at worst deadlocks
    # and is run again (apps.core.retry). The rewrite's own snapshot is taken under the lock.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {pk} FROM {table}"
            f" WHERE (SELECT 1 FROM pg_advisory_xact_lock(%s)) = 1"
            f" AND ({pk} = %s OR ({qn('team_id')} = %s AND {qn('state')} = %s"
            f" AND ({pk} IN ({marks}) OR {lowest} < %s)))"
            f" ORDER BY {pk} FOR UPDATE",
            [
                _COLUMN_LOCK_TAG | team_id << 4 | _STATE_NUMBER[state],
                moving or 0,
                team_id,
                state,
                *ids,
                *lowest_params,
                len(ids),
            ],
        )


def _lowest_other(*, team_id: int, state: str, ids: list[int]) -> tuple[str, list]:
    """SQL for the lowest position among the column's cards other than `ids` (len(ids) when
    there are none): one step down the (team, state, position) index (MIN … GROUP BY scanned
    the whole column)."""
    qn = connection.ops.quote_name
    table, pk, position = qn(Task._meta.db_table), qn("id"), qn("position")
    marks = ", ".join(["%s"] * len(ids))
    sql = (
        f"COALESCE((SELECT o.{position} FROM {table} o WHERE o.{qn('team_id')} = %s"
        f" AND o.{qn('state')} = %s AND o.{pk} NOT IN ({marks})"
        f" ORDER BY o.{position} LIMIT 1), %s)"
    )
    return sql, [team_id, state, *ids, len(ids)]


def _rewrite_order(*, team_id: int, state: str, ids: list[int]) -> None:
    """The new order in one UPDATE, whatever the column's size (see reorder).

    Written as SQL: building the statement from ORM expressions cost more than running it.
    """
    k = len(ids)
    qn = connection.ops.quote_name
    table, pk = qn(Task._meta.db_table), qn("id")
    team_col, state_col, position = qn("team_id"), qn("state"), qn("position")
    marks = ", ".join(["%s"] * k)
    lowest, lowest_params = _lowest_other(team_id=team_id, state=state, ids=ids)
    # How far the other cards move down: 0 while there is room above them.
    shift = f"(CASE WHEN {lowest} < %s THEN %s - {lowest} ELSE 0 END)"
    shift_params = [*lowest_params, k, k + HEADROOM, *lowest_params]
    rank = f"(CASE {table}.{pk} " + " ".join("WHEN %s THEN %s" for _ in ids) + " END)"
    rank_params = [value for n, task_id in enumerate(ids) for value in (task_id, n)]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    sql = (
        f"UPDATE {table} SET"
        f" {position} = CASE WHEN {pk} IN ({marks})"
        f" THEN {lowest} + {shift} - %s + {rank}"
        f" ELSE {position} + {shift} END,"
        f" {qn('updated_at')} = CASE WHEN {pk} IN ({marks}) THEN %s ELSE {qn('updated_at')} END"
        f" WHERE {team_col} = %s AND {state_col} = %s AND ({pk} IN ({marks}) OR {shift} > 0)"
    )
    params = [
        *ids,
        *lowest_params,
        *shift_params,
        k,
        *rank_params,
        *shift_params,
        *ids,
        now,
        team_id,
        state,
        *ids,
        *shift_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@transaction.atomic
def tick(*, item: ChecklistItem, by: User, done: bool) -> ChecklistItem:
    """Tick or untick a checklist item (team members only, as apps.tasks.services decides,
    which also touches the task so open boards refresh its card)."""
    return tasks.toggle_checklist_item(item=item, by=by, done=done)


def may_change_wip_limits(*, user: User, role: str | None) -> bool:
    """The team's leads and staff set its WIP limits (`role`: the user's role in the team,
    which the board page has already read with the team)."""
    return user.is_staff or role == Role.LEAD


def check_may_change_wip_limits(*, team: Team, by: User) -> None:
    """Refuse anyone else, before they see the settings form or when they save it."""
    if not may_change_wip_limits(user=by, role=people.role_in(team_id=team.pk, user=by)):
        raise Forbidden(_("Only a team lead can change WIP limits."))


@transaction.atomic
def save_wip_limits(*, team: Team, by: User, limits: dict[str, int | None], soft: bool) -> None:
    """A lead sets the team's WIP limits (None or 0 = no limit)."""
    check_may_change_wip_limits(team=team, by=by)
    clean = {s: int(n) for s, n in limits.items() if s in LIMITABLE_STATES and n}
    settings, _created = WipLimits.objects.get_or_create(team=team)
    settings.limits = clean
    settings.soft = soft
    settings.full_clean()
    settings.save()
