"""Assigning a team's whole backlog at once (`auto_assign_pending`), as one-by-one would.

Model instances and per-row ORM writes cost too much at 10,000 tasks: the batch reads plain
rows and decides in memory from the same ranking key as a single assignment. The assign
transition itself is applied by apps.tasks.services.apply_in_bulk, which writes counters,
state, log entries and notifications as one-by-one would, a statement per table; the batch
adds its decisions and waiting rows the same way (apps.core.bulk_sql).
"""

import gc
import heapq
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition

from apps.core.bulk_sql import insert_rows
from apps.core.refusals import Forbidden
from apps.notifications.models import Kind, Notification
from apps.notifications.services.outbox import deliver_bulk_after_commit, set_bulk_statuses
from apps.people import selectors as people
from apps.people.models import PersonSkill, Skill, Team, User
from apps.tasks import four_eyes, limits
from apps.tasks import services as task_services
from apps.tasks.models import State, Task
from apps.tasks.services import TaskActionRefused
from apps.tasks.writes import BulkTask

from .. import selectors
from ..models import AssignmentDecision, Mode, WaitingTask
from ..selectors import TOP_N, rank_key, reasons_for
from . import waiting

# How many of a batch's waiting tasks the leads' one notice lists by name.
BATCH_NOTE_TASKS = 20

logger = logging.getLogger("relay.assignment")


@dataclass
class BatchResult:
    assigned: int = 0
    waiting: int = 0
    attempts: int = 1
    # Left `todo` because a hard WIP limit on Assigned filled up, and the sentence saying so.
    held: int = 0
    held_because: str = ""


@dataclass
class _Pending:
    """A todo task as the batch needs it (model instances cost too much at 10,000 tasks)."""

    pk: int
    title: str
    required_skill_id: int | None
    min_level: int
    run_id: int | None = None
    required_skill: Skill | None = None


@dataclass
class _Person:
    user: User
    time_off_until: datetime | None
    active: int
    last: float
    version: int = 0

    def __post_init__(self) -> None:
        self.uid = self.user.pk
        self.capacity = self.user.capacity
        self.records: dict[int, dict] = {}

    def key(self, level: int) -> tuple:
        return rank_key(
            active=self.active, capacity=self.capacity, level=level, last=self.last, pk=self.uid
        )

    def record(self, level: int) -> dict:
        """This person's line in a decision's ranking, reused while their load is unchanged."""
        cached = self.records.get(level)
        if cached is None or cached["load"] != f"{self.active}/{self.capacity}":
            cached = self.records[level] = _batch_record(self, level)
        return cached


def auto_assign_pending(
    *, team: Team, by: User | None = None, only_waiting: bool = False, attempts: int = 3
) -> BatchResult:
    """Assign every assignable `todo` task of the team, most urgent first, as one-by-one would.

    O(T log P): one heap of people per (skill, level) requirement, keyed like the ranking;
    entries go stale when a person's load changes and are re-keyed lazily when popped. Reads
    and writes are a fixed handful of bulk queries. If a concurrent assignment took capacity
    meanwhile, the database refuses the bulk counter update; the batch is recomputed.
    """
    # by=None is Relay itself (the auto_assign management command).
    if by is not None and not selectors.may_auto_assign_pending(team=team, user=by):
        raise Forbidden(_("Only a lead can auto-assign the team's pending tasks."))
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic(), _no_cyclic_gc():
                result = _batch(team=team, by=by, only_waiting=only_waiting)
        except (IntegrityError, ConcurrentTransition):
            logger.info("batch for %s lost a race; recomputing", team.slug)
            continue
        result.attempts = attempt
        return result
    raise TaskActionRefused(
        _("Others kept assigning in this team at the same time; try auto-assign again.")
    )


@contextmanager
def _no_cyclic_gc():
    """The batch holds tens of thousands of small objects (heap entries, rows, records) for a
    moment, none of them in reference cycles; Python's cyclic collector would walk them all,
    over and over, as they are made (a third of the batch's time at 10,000 tasks). Reference
    counting still frees everything; the collector runs again afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _batch(*, team: Team, by: User | None, only_waiting: bool) -> BatchResult:
    now = timezone.now()
    tasks = [
        _Pending(*row)
        for row in Task.objects.filter(team=team, state=State.TODO, assignee__isnull=True)
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("-priority", F("due_at").asc(nulls_last=True), "created_at", "id")
        .values_list("pk", "title", "required_skill_id", "min_level", "run_id")
    ]
    waiting_rows = {w.task_id: w for w in WaitingTask.objects.filter(team=team)}
    # Four-eyes across a run, for the backlog's run tasks (no query without any).
    in_runs = [t.pk for t in tasks if t.run_id is not None]
    barred = (
        four_eyes.conflicts_for(tasks=Task.objects.filter(pk__in=in_runs).select_related("step"))
        if in_runs
        else {}
    )
    if only_waiting:
        tasks = [t for t in tasks if t.pk in waiting_rows]
    if not tasks:
        return BatchResult()
    skills = {s.pk: s for s in Skill.objects.filter(pk__in={t.required_skill_id for t in tasks})}
    for t in tasks:
        t.required_skill = skills.get(t.required_skill_id)
    memberships = list(selectors.team_memberships(team_id=team.pk, at=now))
    levels = {
        (user_id, skill_id): level
        for user_id, skill_id, level in PersonSkill.objects.filter(
            user__memberships__team=team, skill_id__in=list(skills)
        ).values_list("user_id", "skill_id", "level")
    }
    folks = {
        m.user_id: _Person(
            user=m.user,
            time_off_until=m.time_off_until,
            active=m.user.active_count,
            last=selectors.recency(m.user.last_assigned_at),
        )
        for m in memberships
    }
    available = [
        p
        for p in folks.values()
        if p.user.is_active and not p.user.is_away and p.time_off_until is None
    ]
    heaps: dict[tuple, list] = {}

    def heap_for(skill_id: int | None, min_level: int) -> list:
        group = (skill_id, min_level if skill_id else 0)
        if group not in heaps:
            heap = []
            for p in available:
                level = levels.get((p.uid, skill_id), 0) if skill_id else 0
                if (skill_id is None or level >= min_level) and p.active < p.capacity:
                    heap.append((p.key(level), p.version, p.uid, level))
            heapq.heapify(heap)
            heaps[group] = heap
        return heaps[group]

    # A hard WIP limit on Assigned holds the batch as it holds each single assignment.
    room, full = limits.room(team_id=team.pk, target=State.ASSIGNED, by=by)
    clock = selectors.recency(now)
    chosen_for: dict[int, tuple[_Person, int, list]] = {}
    failed: list[_Pending] = []
    held = 0
    for task in tasks:
        if room is not None and len(chosen_for) >= room:
            held += 1
            continue
        heap = heap_for(task.required_skill_id, task.min_level)
        excluded = set(waiting_rows[task.pk].excluded) if task.pk in waiting_rows else set()
        excluded |= set(barred.get(task.pk, ()))
        popped, top = [], []
        while heap and len(top) < TOP_N:
            entry = heapq.heappop(heap)
            _, version, pk, level = entry
            person = folks[pk]
            if version != person.version:  # load changed since pushed: re-key, keep looking
                if person.active < person.capacity:
                    heapq.heappush(heap, (person.key(level), person.version, pk, level))
                continue
            popped.append(entry)
            if pk not in excluded:
                top.append((person, level))
        if not top:
            for entry in popped:
                heapq.heappush(heap, entry)
            failed.append(task)
            continue
        person, level = top[0]
        ranked = [p.record(lvl) for p, lvl in top]
        for entry in popped:
            if entry[2] != person.uid:
                heapq.heappush(heap, entry)
        person.active += 1
        person.version += 1
        clock += 1  # later assignments rank as more recent, exactly as one-by-one would
        person.last = clock
        if person.active < person.capacity:
            heapq.heappush(heap, (person.key(level), person.version, person.uid, level))
        chosen_for[task.pk] = (person, level, ranked)

    _write_batch(team=team, by=by, now=now, tasks=tasks, chosen_for=chosen_for, folks=folks)
    waiting_count = _write_waiting(
        team=team,
        now=now,
        failed=failed,
        folks=folks,
        levels=levels,
        waiting_rows=waiting_rows,
        barred=barred,
    )
    return BatchResult(
        assigned=len(chosen_for),
        waiting=waiting_count,
        held=held,
        held_because=full if held else "",
    )


def _batch_record(person: _Person, level: int) -> dict:
    capacity = person.user.capacity
    free = 1 - min(person.active / capacity if capacity else 1.0, 1.0)
    return {
        "user_id": person.uid,
        "name": person.user.display_name,
        "eligible": True,
        "score": round(free * 100, 1),
        "load": f"{person.active}/{capacity}",
        "level": level,
        "reasons": [],
    }


def _write_batch(
    *,
    team: Team,
    by: User | None,
    now: datetime,
    tasks: list[_Pending],
    chosen_for: dict,
    folks: dict[int, _Person],
) -> None:
    if not chosen_for:
        return
    # The transition, as one-by-one would write it (counters first: the statement the
    # CheckConstraint referees; then state, log entries and notifications).
    titles = {t.pk: t.title for t in tasks}
    task_services.apply_in_bulk(
        name="assign",
        tasks=[
            BulkTask(pk=pk, title=titles[pk], team_id=team.pk, kwargs={"assignee": person.user})
            for pk, (person, _, _) in chosen_for.items()
        ],
        by=by,
        note=_("Auto-assigned (batch)"),
        at=now,
        vetted=True,
        assigned_at={
            pk: selectors.from_recency(folks[pk].last)
            for pk in {p.uid for p, _, _ in chosen_for.values()}
        },
    )
    stamp = connection.ops.adapt_datetimefield_value(now)
    by_id = by.pk if by else None
    insert_rows(
        AssignmentDecision,
        [
            {
                "task_id": pk,
                "assignee_id": person.uid,
                "mode": Mode.BATCH.value,
                "by_id": by_id,
                "score": ranked[0]["score"],
                "ranked": ranked,
                "created_at": stamp,
            }
            for pk, (person, _, ranked) in chosen_for.items()
        ],
    )


def _write_waiting(
    *,
    team: Team,
    now: datetime,
    failed: list[_Pending],
    folks: dict[int, _Person],
    levels: dict,
    waiting_rows: dict[int, WaitingTask],
    barred: dict[int, dict[int, four_eyes.Conflict]],
) -> int:
    """Mark what nobody could take, with reasons computed once per kind of requirement."""
    if not failed:
        return 0
    records: dict[tuple, dict] = {}
    by_record: dict[tuple, list[_Pending]] = {}
    for task in failed:
        excluded = tuple(sorted(waiting_rows[task.pk].excluded)) if task.pk in waiting_rows else ()
        conflicts = barred.get(task.pk, {})
        group = (task.required_skill_id, task.min_level, excluded, tuple(conflicts.values()))
        if group not in records:
            records[group] = _batch_reasons(
                task=task, folks=folks, levels=levels, excluded=excluded, conflicts=conflicts
            )
        by_record.setdefault(group, []).append(task)
    stamp = connection.ops.adapt_datetimefield_value(now)
    since = waiting.stamp(now)
    leads = people.leads_at_work(team_id=team.pk)
    new_rows, fresh_notes = [], []
    for group, group_tasks in by_record.items():
        record = records[group]
        existing = [t.pk for t in group_tasks if t.pk in waiting_rows]
        if existing:
            WaitingTask.objects.filter(task_id__in=existing).update(
                reasons=record, last_tried_at=now
            )
        fresh = [t for t in group_tasks if t.pk not in waiting_rows]
        new_rows += [
            {
                "task_id": t.pk,
                "team_id": team.pk,
                "reasons": record,
                "excluded": [],
                "since": stamp,
                "last_tried_at": stamp,
            }
            for t in fresh
        ]
        note = waiting.summary(record)
        fresh_notes += [(t, note) for t in fresh]
    notes = _unassignable_notes(team=team, leads=leads, fresh=fresh_notes, since=since, stamp=stamp)
    insert_rows(WaitingTask, new_rows)
    insert_rows(Notification, set_bulk_statuses(rows=notes))
    if notes:
        deliver_bulk_after_commit(created_at=now)
    return len(failed)


def _unassignable_notes(*, team: Team, leads: list, fresh: list, since: int, stamp) -> list[dict]:
    """The leads' outbox rows for the tasks this batch left waiting: one task, one row about
    it, as a single assignment says; several, one row per lead listing them all (one e-mail
    for the batch, not one per task), linked to the team's Workload page."""
    if len(fresh) == 1:
        [(task, note)] = fresh
        kind, task_id, key = Kind.UNASSIGNABLE.value, task.pk, f"task:{task.pk}"
        payload = {"title": task.title, "by": "Relay", "note": note}
    elif fresh:
        kind, task_id, key = Kind.UNASSIGNABLE.value, None, f"batch:team:{team.pk}"
        shown = [f"{task.title}: {note}" for task, note in fresh[:BATCH_NOTE_TASKS]]
        if len(fresh) > BATCH_NOTE_TASKS:
            shown.append(_("and %(n)d more") % {"n": len(fresh) - BATCH_NOTE_TASKS})
        payload = {
            "title": _("%(n)d tasks in %(team)s") % {"n": len(fresh), "team": team.name},
            "by": "Relay",
            "reasons": shown,
            "url": reverse("assignment:workload", args=[team.slug]),
        }
    else:
        return []
    return [
        {
            "recipient_id": lead.pk,
            "kind": kind,
            "task_id": task_id,
            "payload": payload,
            "key": f"unassignable:{key}:since:{since}:to:{lead.pk}",
            "created_at": stamp,
        }
        for lead in leads
    ]


def _batch_reasons(
    *,
    task: _Pending,
    folks: dict[int, _Person],
    levels: dict,
    excluded: tuple,
    conflicts: dict[int, four_eyes.Conflict],
) -> dict:
    """The same reasons candidates() gives, from the batch's in-memory loads."""
    rows = []
    for person in folks.values():
        level = levels.get((person.uid, task.required_skill_id), 0)
        reasons = reasons_for(
            user=person.user,
            task=task,
            level=level,
            time_off_until=person.time_off_until,
            excluded=person.uid in excluded,
            active=person.active,
            conflict=conflicts.get(person.uid),
        )
        order = (
            *selectors.nearness(reasons),
            *person.key(level),
        )
        rows.append((order, person, reasons))
    rows.sort(key=lambda row: row[0])
    return waiting.reason_record([(person.user, reasons) for _, person, reasons in rows])
