"""What a transition writes besides the task's own change: its log entry and who hears of it.

One code for both ways a transition is applied, so they cannot drift apart:
- one task at a time (apps.tasks.services._apply): the transition method runs on the locked
  task, which is saved; then `log_transition` and `notices` below;
- many tasks at once (`apply_in_bulk`, for the batch auto-assigner): the same transition
  method runs once on a stand-in task, to learn what it changes; those changes (each task's
  own arguments where the method stores them), the log rows (`log_row`) and the
  notifications (`notices`) are then written in a few bulk statements (apps.core.bulk_sql).

The log rows are django-fsm-log's StateLog, in the shape its own receiver writes (transition
name, source and target state, by, description); its receiver ignores Task
(settings.DJANGO_FSM_LOG_IGNORED_MODELS) because these functions write them.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone
from django_fsm import ConcurrentTransition
from django_fsm_log.models import StateLog

from apps.core.bulk_sql import insert_rows, update_from_values
from apps.notifications.models import Notification
from apps.notifications.services.outbox import deliver_bulk_after_commit, set_bulk_statuses
from apps.people.models import User
from apps.people.system import is_automation

from . import events
from .models import ACTIVE_STATES, Task
from .signals import tasks_transitioned_in_bulk


def by_name(by: User | None) -> str:
    """Who did it, as a notification says it ("Relay" for Relay's own engine)."""
    return by.display_name if by else "Relay"


def log_row(
    *,
    task_id: int,
    name: str,
    source: str,
    target: str,
    by: User | None,
    note: str,
    at,
    content_type_id: int | None = None,
) -> dict:
    """The log entry of one transition, as StateLog attnames (`content_type_id`: Task's, if
    the caller looked it up already)."""
    return {
        "timestamp": at,
        "by_id": by.pk if by else None,
        "source_state": source,
        "state": target,
        "transition": name,
        "content_type_id": content_type_id or ContentType.objects.get_for_model(Task).pk,
        "object_id": task_id,
        "description": note.strip() or None,
    }


def log_transition(*, task: Task, name: str, source: str, by: User | None, note: str) -> int:
    """Write the log entry of the transition just applied to `task`; returns its id."""
    row = log_row(
        task_id=task.pk,
        name=name,
        source=source,
        target=task.state,
        by=by,
        note=note,
        at=timezone.now(),
    )
    return StateLog.objects.create(**row).pk


def notices(*, told: dict, task, name: str, by: User | None, note: str, log_id: int):
    """Who hears of this transition and what they are told: (kind, recipients, key, payload),
    or None. `told` maps a transition's name to its (kind, recipients of a task); `task` is
    the task after the transition (or a stand-in with the fields the recipients are read from).
    """
    if name not in told:
        return None
    kind, recipients_of = told[name]
    # Nobody is told about what they did themselves (a lead taking a task, say).
    recipients = [p for p in recipients_of(task) if p and (by is None or p.pk != by.pk)]
    if not recipients:
        return None
    key = f"{kind}:task:{task.pk}:log:{log_id}"
    return kind, recipients, key, {"by": by_name(by), "note": note, "title": task.title}


# --- many tasks at once ----------------------------------------------------------------------

# Transitions that may be applied in bulk: those whose listeners (task_transitioned's
# receivers) also handle tasks_transitioned_in_bulk. Finishing or freeing work routes runs and
# retries waiting tasks task by task, so it goes through services one task at a time.
BULK = frozenset({"assign"})


@dataclass
class BulkTask:
    """A task as `apply_in_bulk` needs it: its id, title, team, current assignee, and the
    arguments of the transition for it (e.g. {"assignee": person})."""

    pk: int
    title: str
    team_id: int
    assignee: User | None = None
    kwargs: dict = field(default_factory=dict)

    @property
    def assignee_id(self) -> int | None:
        return self.assignee.pk if self.assignee else None

    # What _TOLD's recipient functions read of a task, besides the assignee.
    reviewer = None
    reviewer_id = None


def _declared(name: str) -> tuple[str, str]:
    """The one source and target state the model declares for transition `name`."""
    meta = getattr(Task, name)._django_fsm
    [(source, transition)] = meta.transitions.items()
    return source, transition.target


def _changes(*, name: str, source: str, by: User | None, note: str, kwargs: dict) -> dict:
    """What transition `name` changes on a task in `source` (attname: value), learnt by running
    it on a stand-in: the model's method is the one statement of what a transition does."""
    probe = Task(state=source)
    skipped = {"id", "state", "updated_at"}
    before = {f.attname: getattr(probe, f.attname) for f in Task._meta.concrete_fields}
    getattr(probe, name)(by=by, description=note.strip() or None, **kwargs)
    return {
        attname: getattr(probe, attname)
        for attname, value in before.items()
        if attname not in skipped and getattr(probe, attname) != value
    }


def _as_column(value):
    return getattr(value, "pk", value)


def _per_task(*, name: str, changes: dict, kwargs: dict) -> dict[str, str]:
    """Which changed fields take an argument's value (attname: argument name): the field named
    like the argument ("assignee" → assignee_id). Running the method once per distinct
    argument costs too much at a thousand assignees, so the probe's change must be exactly the
    argument; a transition that does more with it is not applied in bulk."""
    taken = {}
    for argument, value in kwargs.items():
        attname = next((a for a in (argument, f"{argument}_id") if a in changes), None)
        if attname is None or changes[attname] != _as_column(value):
            raise ValueError(f"{name!r} does more with {argument!r} than store it.")
        taken[attname] = argument
    return taken


def apply_in_bulk(
    *,
    told: dict,
    name: str,
    tasks: list[BulkTask],
    by: User | None,
    note: str = "",
    at: datetime | None = None,
    vetted: bool = False,
    assigned_at: dict[int, datetime] | None = None,
) -> dict[int, int]:
    """Apply transition `name` to every task at once, writing exactly what one-by-one would.

    The caller holds the task rows locked, in the transition's source state, inside its
    transaction. Written in this order, one statement per table (chunked on SQLite):
    1. the assignees' active-task counters (+ last_assigned_at: `assigned_at` per person, or
       `at`), the statement the capacity CheckConstraint referees: IntegrityError if anyone
       would go over;
    2. the tasks' state and the fields the transition changes, only where the row is still in
       the source state: ConcurrentTransition if any moved meanwhile;
    3. the log entries (`log_row`), 4. the notifications (`notices`, through the outbox);
    5. then tasks_transitioned_in_bulk once for them all (one signal instead of one per task:
       its receivers react to the set in a few queries).
    `told` is who hears of which transition (apps.tasks.services._TOLD). Returns each task's
    log entry id.
    """
    if name not in BULK:
        raise ValueError(f"{name!r} is not a transition applied in bulk.")
    if not tasks:
        return {}
    at = at or timezone.now()
    source, target = _declared(name)
    # The transition runs once, on a stand-in with the first task's arguments; every task
    # gets its changes, with its own arguments in the fields that store them.
    arguments = sorted(tasks[0].kwargs)
    if any(sorted(task.kwargs) != arguments for task in tasks):
        raise ValueError(f"Every task takes the same arguments of {name!r}.")
    constant = _changes(name=name, source=source, by=by, note=note, kwargs=tasks[0].kwargs)
    taken = _per_task(name=name, changes=constant, kwargs=tasks[0].kwargs)
    columns = sorted(constant)
    changes = [
        constant | {a: _as_column(task.kwargs[arg]) for a, arg in taken.items()} for task in tasks
    ]
    after = [
        BulkTask(
            pk=task.pk,
            title=task.title,
            team_id=task.team_id,
            assignee=task.kwargs.get("assignee", task.assignee)
            if "assignee_id" in change
            else task.assignee,
        )
        for task, change in zip(tasks, changes, strict=True)
    ]
    _count_holders(
        tasks=tasks, after=after, source=source, target=target, at=at, assigned_at=assigned_at
    )
    _write_tasks(tasks=tasks, changes=changes, columns=columns, source=source, target=target, at=at)
    stamp = connection.ops.adapt_datetimefield_value(at)
    content_type_id = ContentType.objects.get_for_model(Task).pk
    logged = dict(
        (object_id, log_id)
        for log_id, object_id in insert_rows(
            StateLog,
            [
                log_row(
                    task_id=task.pk,
                    name=name,
                    source=source,
                    target=target,
                    by=by,
                    note=note,
                    at=stamp,
                    content_type_id=content_type_id,
                )
                for task in tasks
            ],
            returning=("id", "object_id"),
        )
    )
    rows = []
    for task in after:
        notice = notices(told=told, task=task, name=name, by=by, note=note, log_id=logged[task.pk])
        if notice is None:
            continue
        kind, recipients, key, payload = notice
        rows += [
            {
                "recipient_id": person.pk,
                "kind": str(kind),
                "task_id": task.pk,
                "payload": payload,
                "key": f"{key}:to:{person.pk}",
                "created_at": stamp,
            }
            for person in dict.fromkeys(recipients)
        ]
    if rows:
        insert_rows(Notification, set_bulk_statuses(rows=rows))
        deliver_bulk_after_commit(created_at=at)
    events.transitioned_in_bulk(
        task_ids=[task.pk for task in tasks],
        team_ids=sorted({task.team_id for task in tasks}),
        name=name,
        source=source,
        target=target,
        by=by,
        note=note,
        at=at,
    )
    tasks_transitioned_in_bulk.send(
        sender=Task,
        task_ids=[task.pk for task in tasks],
        team_ids=sorted({task.team_id for task in tasks}),
        name=name,
        by=by,
        vetted=vetted,
    )
    return logged


def _count_holders(
    *,
    tasks: list[BulkTask],
    after: list[BulkTask],
    source: str,
    target: str,
    at: datetime,
    assigned_at: dict[int, datetime] | None,
) -> None:
    """services._move_capacity for many tasks: + 1 for whoever now holds an active task."""
    taken: Counter = Counter()
    for task, moved in zip(tasks, after, strict=True):
        before = task.assignee if source in ACTIVE_STATES else None
        now_holds = moved.assignee if target in ACTIVE_STATES else None
        if before is not None and (now_holds is None or before.pk != now_holds.pk):
            raise ValueError("A transition applied in bulk never frees an active task.")
        if now_holds is not None and before is None and not is_automation(now_holds):
            taken[now_holds.pk] += 1
    if not taken:
        return
    quote = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    stamps = assigned_at or {}
    update_from_values(
        User._meta.db_table,
        f"{quote('active_count')} = {quote('active_count')} + v.column2, "
        f"{quote('last_assigned_at')} = v.column3",
        [(pk, delta, adapt(stamps.get(pk, at))) for pk, delta in sorted(taken.items())],
        ["bigint", "integer", "timestamp with time zone"],
        [],
    )


def _write_tasks(
    *,
    tasks: list[BulkTask],
    changes: list[dict],
    columns: list[str],
    source: str,
    target: str,
    at: datetime,
) -> None:
    quote = connection.ops.quote_name
    fields = {f.attname: f for f in Task._meta.concrete_fields}
    state_column = quote(fields["state"].column)
    cast = "CAST(%s AS timestamp with time zone)" if connection.vendor == "postgresql" else "%s"
    sets = [f"{state_column} = %s", f"{quote(fields['updated_at'].column)} = {cast}"] + [
        f"{quote(fields[c].column)} = v.column{i + 2}" for i, c in enumerate(columns)
    ]
    prepared: dict[tuple, object] = {}  # a thousand assignees, not ten thousand preparations

    def prepare(column: str, value):
        key = (column, value)
        if key not in prepared:
            prepared[key] = fields[column].get_db_prep_save(value, connection)
        return prepared[key]

    rows = [
        (task.pk, *(prepare(c, change[c]) for c in columns))
        for task, change in zip(tasks, changes, strict=True)
    ]
    updated = update_from_values(
        Task._meta.db_table,
        ", ".join(sets),
        rows,
        ["bigint", *(fields[c].db_type(connection) for c in columns)],
        [target, connection.ops.adapt_datetimefield_value(at)],
        where=f"{quote(Task._meta.db_table)}.{state_column} = %s",
        where_params=(source,),
    )
    if updated != len(tasks):
        raise ConcurrentTransition(
            f"{len(tasks) - updated} of {len(tasks)} tasks left {source!r} meanwhile."
        )
