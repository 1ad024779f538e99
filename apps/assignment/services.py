"""Choosing who does a task, recording why, and keeping everyone within capacity.

`assign` is the one entry point for a single task (the run engine, the board and the task page
call it); `auto_assign_pending` assigns a whole team's backlog at once. Both decide from the
same ranking (selectors.candidates / the same key), so a batch gives what one-by-one would.

Capacity is refereed by the database, never by a read-then-write here: every assignment bumps
`User.active_count` with an F() update under the CheckConstraint `active_count <= capacity`.
A single assignment that loses a race gets TaskActionRefused from apps.tasks.services and tries
the next candidate (each attempt in its own savepoint); a batch whose bulk counter update is
refused rolls back as a whole and is recomputed from fresh loads.
"""

import heapq
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm_log.models import StateLog

from apps.core.bulk_sql import insert_rows, update_from_values
from apps.notifications.models import Kind, Notification
from apps.notifications.services import (
    deliver_bulk_after_commit,
    notify,
    set_bulk_statuses,
)
from apps.people import selectors as people
from apps.people.models import Membership, PersonSkill, Skill, Team, User
from apps.tasks import services as task_services
from apps.tasks.models import State, Task
from apps.tasks.services import TaskActionRefused

from . import selectors
from .models import AssignmentDecision, Mode, WaitingTask
from .selectors import TOP_N, Candidate, rank_key, reasons_for

logger = logging.getLogger("relay.assignment")

# How many people's reasons a waiting task keeps (the nearest to eligible first).
KEPT_REASONS = 10


@dataclass
class Assignment:
    """What `assign_with_decision` did: the task (None if nobody fits), why, and the ranking."""

    task: Task | None
    decision: AssignmentDecision | None
    candidates: list[Candidate]
    waiting: WaitingTask | None = None


def assign(
    *,
    task: Task,
    person: User | None = None,
    by: User | None = None,
    exclude: Iterable = (),
    override: bool = False,
    note: str = "",
) -> Task | None:
    """Give `task` to `person`, or (None) to the best eligible member; None if nobody fits.

    Refuses (TaskActionRefused, with the reasons) a person who is not eligible, unless `by` is
    a lead, `override` is set and the only reasons are availability (away, time off). Nobody
    fitting leaves the task `todo`, marked waiting with the reasons, and tells the leads.
    """
    return assign_with_decision(
        task=task, person=person, by=by, exclude=exclude, override=override, note=note
    ).task


@transaction.atomic
def assign_with_decision(
    *,
    task: Task,
    person: User | None = None,
    by: User | None = None,
    exclude: Iterable = (),
    override: bool = False,
    note: str = "",
) -> Assignment:
    excluded = sorted(selectors._excluded_ids(exclude))
    if person is not None:
        return _assign_person(
            task=task, person=person, by=by, excluded=excluded, override=override, note=note
        )
    if by is not None and not people.is_lead(team_id=task.team_id, user=by):
        # Choosing for someone else is a lead's call (or Relay's own, by=None).
        raise TaskActionRefused(task_services.ACTIONS["assign"].refused_for_role)
    refused: list[int] = []
    ranked = selectors.best_candidates(task=task, exclude=excluded)
    top = ranked
    while top:
        for candidate in top:
            try:
                # assign_to runs in its own savepoint (tasks.services._apply is atomic): a
                # refused attempt leaves nothing behind and the next one starts clean.
                assigned = task_services.assign_to(
                    task=task, assignee=candidate.user, by=by, note=note, vetted=True
                )
            except TaskActionRefused:
                if _state_of(task) != State.TODO:
                    raise
                # Lost a race for this person's last slot (the database refused the counter):
                # take the next in line.
                refused.append(candidate.user.pk)
                continue
            decision = _record(
                task=assigned, chosen=candidate, ranked=ranked, mode=Mode.AUTO, by=by, note=note
            )
            return Assignment(task=assigned, decision=decision, candidates=ranked)
        top = selectors.best_candidates(task=task, exclude=[*excluded, *refused])
    if _state_of(task) != State.TODO:
        raise TaskActionRefused(_("This task is no longer waiting to be assigned."))
    everyone = selectors.candidates(task=task, exclude=excluded)
    waiting = _mark_waiting(task=task, ranked=everyone, excluded=excluded)
    return Assignment(task=None, decision=None, candidates=everyone, waiting=waiting)


def _assign_person(
    *, task: Task, person: User, by: User | None, excluded: list[int], override: bool, note: str
) -> Assignment:
    candidate = next(
        iter(selectors.candidates(task=task, exclude=excluded, user_id=person.pk)), None
    )
    if candidate is None:
        raise TaskActionRefused(
            _("%(name)s is not a member of this team.") % {"name": person.display_name}
        )
    overrode: list[str] = []
    if not candidate.eligible:
        may_override = (
            candidate.overridable
            and by is not None
            and people.is_lead(team_id=task.team_id, user=by)
        )
        if not (override and may_override):
            message = _("%(name)s can't take this task: %(reasons)s.") % {
                "name": person.display_name,
                "reasons": "; ".join(candidate.reason_texts),
            }
            if may_override:
                message += " " + _("As a lead you may override availability.")
            raise TaskActionRefused(message)
        overrode = candidate.reason_texts
        # The override goes into the task's history too, not only the decision.
        note = (note + " " if note else "") + _("(Lead override of availability: %(why)s.)") % {
            "why": "; ".join(overrode)
        }
    # The engine checked eligibility above (lead overrides included).
    assigned = task_services.assign_to(
        task=task, assignee=candidate.user, by=by, note=note, vetted=True
    )
    # The ranking as it stood (from before this assignment), with the chosen person in it.
    ranked = selectors.best_candidates(task=task, exclude=[*excluded, person.pk])
    pool = sorted([candidate, *ranked], key=selectors.sort_key)
    ranked = pool[:TOP_N] if candidate in pool[:TOP_N] else [*pool[: TOP_N - 1], candidate]
    decision = _record(
        task=assigned,
        chosen=candidate,
        ranked=ranked,
        mode=Mode.MANUAL,
        by=by,
        note=note,
        overrode=overrode,
    )
    if overrode:
        logger.warning(
            "availability override: %s assigned task %s to %s despite %s",
            by.username if by else "relay",
            task.pk,
            person.username,
            "; ".join(overrode),
        )
    return Assignment(task=assigned, decision=decision, candidates=ranked)


def _state_of(task: Task) -> str | None:
    return Task.objects.filter(pk=task.pk).values_list("state", flat=True).first()


def _record(
    *,
    task: Task,
    chosen: Candidate,
    ranked: list[Candidate],
    mode: str,
    by: User | None,
    note: str = "",
    overrode: list[str] | None = None,
) -> AssignmentDecision:
    return AssignmentDecision.objects.create(
        task=task,
        assignee=chosen.user,
        mode=mode,
        by=by,
        score=chosen.score if chosen.eligible else None,
        ranked=[c.as_record() for c in ranked[:TOP_N]],
        overrode=overrode or [],
        note=note[:300],
    )


def _reason_record(ranked: list[Candidate]) -> dict:
    """The nearest-to-eligible people's reasons, and how many reasons of each kind in all."""
    kinds = Counter(r.kind for c in ranked for r in c.reasons)
    return {
        "people": [[c.user.display_name, c.reason_texts] for c in ranked[:KEPT_REASONS]],
        "others": max(0, len(ranked) - KEPT_REASONS),
        "kinds": dict(kinds),
    }


def _summary(record: dict) -> str:
    if not record["people"]:
        return _("the team has no members")
    return "; ".join(f"{name}: {', '.join(reasons)}" for name, reasons in record["people"][:3])


def _mark_waiting(*, task: Task, ranked: list[Candidate], excluded: list[int]) -> WaitingTask:
    """Nobody can take it now: keep the reasons, tell the leads once, retry when people free up."""
    record = _reason_record(ranked)
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
            recipients=selectors.leads_of(team_id=task.team_id),
            key=f"unassignable:task:{task.pk}:since:{_stamp(waiting.since)}",
            task=task,
            payload={"title": task.title, "by": "Relay", "note": _summary(record)},
        )
    return waiting


def _stamp(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


# --- retrying when people free up ------------------------------------------------------------

# Transitions after which the (former) assignee holds one task fewer.
FREEING = frozenset({"complete", "approve", "reject", "cancel", "unassign", "hold"})


def on_task_transitioned(*, task: Task, name: str, by: User | None, vetted: bool, **kwargs) -> None:
    """apps.tasks.signals.task_transitioned: hold every assignment to the eligibility rules,
    tidy waiting rows, retry waiting tasks when capacity frees."""
    if name == "assign" and by is not None and not vetted:
        _refuse_ineligible(task=task)
    if name in ("assign", "hold", "cancel"):
        WaitingTask.objects.filter(task_id=task.pk).delete()
    if name not in FREEING or (task.assignee_id is None and name != "unassign"):
        return
    # The freed slot is the (former) assignee's: their teams' waiting tasks may now fit. After
    # an unassign the person is no longer on the task, but they are in its team.
    team_ids = (
        people_teams(user_id=task.assignee_id) if task.assignee_id is not None else [task.team_id]
    )
    retry_waiting(team_ids=team_ids, stop_after=1, skip_task_id=task.pk)


def _refuse_ineligible(*, task: Task) -> None:
    """A person assigning around the engine (tasks.services.assign_to, the task page's plain
    Assign button) still may not give work to someone unskilled, away or on time off: refusing
    here rolls the transition back. Relay's own callers (by=None: the run engine) are trusted
    to have asked the engine. Capacity is not rechecked: the counter was just raised and the
    database constraint has already refereed it."""
    found = selectors.candidates(task=task, user_id=task.assignee_id)
    reasons = [r.text for c in found for r in c.reasons if r.kind != selectors.CAPACITY]
    if reasons:
        raise TaskActionRefused(
            _("%(name)s can't take this task: %(reasons)s.")
            % {"name": task.assignee.display_name, "reasons": "; ".join(reasons)}
        )


def people_teams(*, user_id: int) -> QuerySet:
    """The person's teams' ids, as a subquery (no extra round trip)."""
    return Membership.objects.filter(user_id=user_id).values("team_id")


def retry_waiting(
    *,
    team_ids: Iterable[int] | QuerySet,
    stop_after: int | None = None,
    skip_task_id: int | None = None,
    limit: int = 50,
) -> int:
    """Try waiting tasks again, most urgent first; returns how many got someone.

    `stop_after=1` suits one freed slot: stop at the first success. Each retry runs in its own
    savepoint so a failure never undoes the change that triggered it.
    """
    rows = (
        WaitingTask.objects.filter(team_id__in=team_ids, task__state=State.TODO)
        .exclude(task_id=skip_task_id)
        .select_related("task", "task__required_skill")
        .order_by("-task__priority", F("task__due_at").asc(nulls_last=True), "since", "id")[:limit]
    )
    assigned = 0
    for row in list(rows):
        try:
            with transaction.atomic():
                result = assign_with_decision(task=row.task, exclude=row.excluded)
        except TaskActionRefused as refusal:  # e.g. someone changed it meanwhile
            logger.info("waiting task %s not retried: %s", row.task_id, refusal)
            continue
        except DatabaseError:  # e.g. a deadlock victim on PostgreSQL: its savepoint is undone
            logger.exception("retrying waiting task %s failed", row.task_id)
            continue
        if result.task is not None:
            assigned += 1
            if stop_after is not None and assigned >= stop_after:
                break
    return assigned


def on_availability_changed(*, user: User, **kwargs) -> None:
    """apps.people.signals.availability_changed: someone may fit a waiting task now."""
    capacity_changed(user=user)


def capacity_changed(*, user: User) -> int:
    """Someone's capacity went up or they came back: retry waiting tasks in their teams."""
    return retry_waiting(team_ids=people_teams(user_id=user.pk))


def retry_all_waiting() -> int:
    """The periodic sweep (time off that ended, anything a hook missed)."""
    team_ids = set(WaitingTask.objects.values_list("team_id", flat=True).distinct())
    return retry_waiting(team_ids=team_ids) if team_ids else 0


# --- the batch -------------------------------------------------------------------------------


@dataclass
class BatchResult:
    assigned: int = 0
    waiting: int = 0
    attempts: int = 1
    per_person: dict[int, int] = field(default_factory=dict)


@dataclass
class _Pending:
    """A todo task as the batch needs it (model instances cost too much at 10,000 tasks)."""

    pk: int
    title: str
    required_skill_id: int | None
    min_level: int
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
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic():
                result = _batch(team=team, by=by, only_waiting=only_waiting)
        except IntegrityError:
            logger.info("batch for %s lost a capacity race; recomputing", team.slug)
            continue
        result.attempts = attempt
        return result
    raise TaskActionRefused(
        _("Others kept assigning in this team at the same time; try auto-assign again.")
    )


def _batch(*, team: Team, by: User | None, only_waiting: bool) -> BatchResult:
    now = timezone.now()
    tasks = [
        _Pending(*row)
        for row in Task.objects.filter(team=team, state=State.TODO, assignee__isnull=True)
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("-priority", F("due_at").asc(nulls_last=True), "created_at", "id")
        .values_list("pk", "title", "required_skill_id", "min_level")
    ]
    waiting_rows = {w.task_id: w for w in WaitingTask.objects.filter(team=team)}
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

    clock = selectors.recency(now)
    chosen_for: dict[int, tuple[_Person, int, list]] = {}
    failed: list[_Pending] = []
    for task in tasks:
        heap = heap_for(task.required_skill_id, task.min_level)
        excluded = set(waiting_rows[task.pk].excluded) if task.pk in waiting_rows else set()
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
    )
    per_person = Counter(p.uid for p, _, _ in chosen_for.values())
    return BatchResult(assigned=len(chosen_for), waiting=waiting_count, per_person=dict(per_person))


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
    quote = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    # Counters first: this is the statement the CheckConstraint referees.
    deltas = Counter(p.uid for p, _, _ in chosen_for.values())
    user_rows = [
        (pk, delta, adapt(selectors.from_recency(folks[pk].last)))
        for pk, delta in sorted(deltas.items())
    ]
    update_from_values(
        User._meta.db_table,
        f"{quote('active_count')} = {quote('active_count')} + v.column2, "
        f"{quote('last_assigned_at')} = v.column3",
        user_rows,
        ["bigint", "integer", "timestamp with time zone"],
        [],
    )
    update_from_values(
        Task._meta.db_table,
        f"{quote('assignee_id')} = v.column2, {quote('state')} = %s, {quote('updated_at')} = "
        + ("CAST(%s AS timestamp with time zone)" if connection.vendor == "postgresql" else "%s"),
        [(pk, p.uid) for pk, (p, _, _) in chosen_for.items()],
        ["bigint", "bigint"],
        [State.ASSIGNED.value, adapt(now)],
    )
    content_type_id = ContentType.objects.get_for_model(Task).pk
    stamp = adapt(now)
    by_id = by.pk if by else None
    description = _("Auto-assigned (batch)")
    insert_rows(
        StateLog,
        [
            {
                "timestamp": stamp,
                "by_id": by_id,
                "source_state": State.TODO.value,
                "state": State.ASSIGNED.value,
                "transition": "assign",
                "content_type_id": content_type_id,
                "object_id": pk,
                "description": description,
            }
            for pk in chosen_for
        ],
    )
    titles = {t.pk: t.title for t in tasks}
    by_name = by.display_name if by else "Relay"
    batch_key = f"batch:{_stamp(now)}"
    insert_rows(
        Notification,
        set_bulk_statuses(
            rows=[
                {
                    "recipient_id": person.uid,
                    "kind": Kind.ASSIGNED.value,
                    "task_id": pk,
                    "payload": {"by": by_name, "note": "", "title": titles[pk]},
                    "key": f"assigned:task:{pk}:{batch_key}:to:{person.uid}",
                    "created_at": stamp,
                }
                for pk, (person, _, _) in chosen_for.items()
            ]
        ),
    )
    deliver_bulk_after_commit(created_at=now)
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
    # Waiting rows of tasks no longer `todo` (just assigned): no 10,000-id IN list needed.
    WaitingTask.objects.filter(team=team).exclude(task__state=State.TODO).delete()


def _write_waiting(
    *,
    team: Team,
    now: datetime,
    failed: list[_Pending],
    folks: dict[int, _Person],
    levels: dict,
    waiting_rows: dict[int, WaitingTask],
) -> int:
    """Mark what nobody could take, with reasons computed once per kind of requirement."""
    if not failed:
        return 0
    records: dict[tuple, dict] = {}
    by_record: dict[tuple, list[_Pending]] = {}
    for task in failed:
        excluded = tuple(sorted(waiting_rows[task.pk].excluded)) if task.pk in waiting_rows else ()
        group = (task.required_skill_id, task.min_level, excluded)
        if group not in records:
            records[group] = _batch_reasons(
                task=task, folks=folks, levels=levels, excluded=excluded
            )
        by_record.setdefault(group, []).append(task)
    stamp = connection.ops.adapt_datetimefield_value(now)
    since = _stamp(now)
    leads = selectors.leads_of(team_id=team.pk)
    new_rows, notes = [], []
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
        summary = _summary(record)
        notes += [
            {
                "recipient_id": lead.pk,
                "kind": Kind.UNASSIGNABLE.value,
                "task_id": t.pk,
                "payload": {"title": t.title, "by": "Relay", "note": summary},
                "key": f"unassignable:task:{t.pk}:since:{since}:to:{lead.pk}",
                "created_at": stamp,
            }
            for t in fresh
            for lead in leads
        ]
    insert_rows(WaitingTask, new_rows)
    insert_rows(Notification, set_bulk_statuses(rows=notes))
    if notes:
        deliver_bulk_after_commit(created_at=now)
    return len(failed)


def _batch_reasons(
    *, task: _Pending, folks: dict[int, _Person], levels: dict, excluded: tuple
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
        )
        order = (
            *selectors.nearness(reasons),
            *person.key(level),
        )
        rows.append((order, person, reasons))
    rows.sort(key=lambda row: row[0])
    kinds = Counter(r.kind for _, _, reasons in rows for r in reasons)
    return {
        "people": [
            [person.user.display_name, [r.text for r in reasons]]
            for _, person, reasons in rows[:KEPT_REASONS]
        ],
        "others": max(0, len(rows) - KEPT_REASONS),
        "kinds": dict(kinds),
    }
