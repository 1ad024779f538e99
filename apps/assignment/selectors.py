"""Who could do a task, and why (not): the ranking every assignment decision is made from.

Ranking: eligible people first; among them the lowest load ratio (active tasks ÷ capacity),
then the higher skill level, then whoever was assigned least recently (so equal people take
turns), then the lower id so equal inputs always give the same order.

Eligibility for the whole team is computed in one query (memberships with the user, the skill
level and any current time off as subqueries), never one query per person.
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.people import selectors as people
from apps.people.models import Membership, PersonSkill, Team, TimeOff, User
from apps.tasks import four_eyes
from apps.tasks.models import State, Task

from .models import AssignmentDecision, WaitingTask

# Kinds of reason, so callers can tell what a lead may override (availability) from what
# nobody may (capacity, skill, four-eyes).
SKILL, AVAILABILITY, CAPACITY, EXCLUDED, INACTIVE = (
    "skill",
    "availability",
    "capacity",
    "excluded",
    "inactive",
)
OVERRIDABLE = frozenset({AVAILABILITY})
TOP_N = 5
# What ranking, reasons and the assignment itself read of a person (not passwords and such).
CANDIDATE_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "is_active",
    "is_away",
    "capacity",
    "active_count",
    "last_assigned_at",
)


@dataclass(frozen=True)
class Reason:
    kind: str
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass
class Candidate:
    """One team member seen from one task: eligible or not, why, and where they rank."""

    user: User
    level: int
    time_off_until: datetime | None
    reasons: list[Reason] = field(default_factory=list)
    rank: int | None = None

    @property
    def eligible(self) -> bool:
        return not self.reasons

    @property
    def overridable(self) -> bool:
        """Ineligible only for reasons a lead may override (away, time off)."""
        return bool(self.reasons) and all(r.kind in OVERRIDABLE for r in self.reasons)

    @property
    def load(self) -> int:
        return self.user.active_count

    @property
    def capacity(self) -> int:
        return self.user.capacity

    @property
    def load_ratio(self) -> float:
        return ratio(self.user.active_count, self.user.capacity)

    @property
    def load_percent(self) -> int:
        return min(100, round(self.load_ratio * 100))

    @property
    def score(self) -> float:
        """Share of capacity still free, 0-100: the first thing the ranking compares."""
        return round((1 - min(self.load_ratio, 1.0)) * 100, 1)

    @property
    def reason_texts(self) -> list[str]:
        return [r.text for r in self.reasons]

    def as_record(self) -> dict:
        """What an AssignmentDecision keeps of this candidate."""
        return {
            "user_id": self.user.pk,
            "name": self.user.display_name,
            "eligible": self.eligible,
            "score": self.score if self.eligible else None,
            "load": f"{self.load}/{self.capacity}",
            "level": self.level,
            "reasons": self.reason_texts,
        }


def ratio(active: int, capacity: int) -> float:
    return active / capacity if capacity else float("inf")


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def recency(last_assigned_at: datetime | None) -> float:
    """Last assignment in whole microseconds (exact, unlike a float of seconds); never
    assigned sorts as longest ago."""
    if last_assigned_at is None:
        return float("-inf")
    return (last_assigned_at - EPOCH) // MICROSECOND


def from_recency(value: float) -> datetime:
    return EPOCH + int(value) * MICROSECOND


def rank_key(*, active: int, capacity: int, level: int, last: float, pk: int) -> tuple:
    """The ranking among eligible people (the batch uses the very same key)."""
    return (ratio(active, capacity), -level, last, pk)


def reasons_for(
    *,
    user: User,
    task: Task,
    level: int | None,
    time_off_until: datetime | None,
    excluded: bool,
    active: int | None = None,
    conflict: four_eyes.Conflict | None = None,
) -> list[Reason]:
    """Why `user` cannot take `task` (empty: they can). Pure: the batch reuses it in memory."""
    reasons: list[Reason] = []
    if conflict is not None:
        reasons.append(Reason(EXCLUDED, conflict.reason))
    elif excluded:
        reasons.append(Reason(EXCLUDED, _("is the author of the work under review")))
    if not user.is_active:
        reasons.append(Reason(INACTIVE, _("account inactive")))
    skill = task.required_skill
    if skill is not None:
        if not level:
            reasons.append(Reason(SKILL, _("lacks skill %(skill)s") % {"skill": skill.name}))
        elif level < task.min_level:
            reasons.append(
                Reason(
                    SKILL,
                    _("has %(skill)s at level %(level)d < %(required)d required")
                    % {"skill": skill.name, "level": level, "required": task.min_level},
                )
            )
    if user.is_away:
        reasons.append(Reason(AVAILABILITY, _("away")))
    if time_off_until is not None:
        reasons.append(
            Reason(
                AVAILABILITY,
                _("on time off until %(date)s")
                % {"date": timezone.localtime(time_off_until).strftime("%Y-%m-%d")},
            )
        )
    active = user.active_count if active is None else active
    if active >= user.capacity:
        reasons.append(
            Reason(
                CAPACITY,
                _("at capacity %(active)d/%(capacity)d")
                % {"active": active, "capacity": user.capacity},
            )
        )
    return reasons


def current_time_off(at: datetime) -> Subquery:
    """The end of the time off a person is on at `at` (latest end if several overlap)."""
    return Subquery(
        TimeOff.objects.filter(user=OuterRef("user_id"), starts__lte=at, ends__gt=at)
        .order_by("-ends")
        .values("ends")[:1]
    )


def team_memberships(*, team_id: int, at: datetime, skill_id: int | None = None) -> QuerySet:
    """Memberships with user, current time off and (if asked) the level in one skill: 1 query."""
    memberships = (
        Membership.objects.filter(team_id=team_id)
        .select_related("user")
        .annotate(time_off_until=current_time_off(at))
        .order_by("user_id")
    )
    if skill_id is not None:
        memberships = memberships.annotate(
            skill_level=Subquery(
                PersonSkill.objects.filter(user=OuterRef("user_id"), skill_id=skill_id)
                .order_by()
                .values("level")[:1]
            )
        )
    return memberships


def _excluded_ids(exclude: Iterable) -> set[int]:
    return {getattr(p, "pk", p) for p in exclude if p is not None}


def candidates(
    *, task: Task, exclude: Iterable = (), at: datetime | None = None, user_id: int | None = None
) -> list[Candidate]:
    """Every member of the task's team (or just `user_id`), best first, each with the reasons
    they can't take it (four-eyes across the run among them: apps.tasks.four_eyes).

    One query whatever the team size (plus one for the task's skill if not already loaded, and
    the step's four-eyes rule for a run's task).
    """
    at = at or timezone.now()
    excluded = _excluded_ids(exclude)
    barred = four_eyes.conflicts(task=task)
    skill_id = task.required_skill_id
    memberships = team_memberships(team_id=task.team_id, at=at, skill_id=skill_id)
    if user_id is not None:
        memberships = memberships.filter(user_id=user_id)
    result = []
    for membership in memberships:
        user = membership.user
        level = getattr(membership, "skill_level", None) or 0
        result.append(
            Candidate(
                user=user,
                level=level,
                time_off_until=membership.time_off_until,
                reasons=reasons_for(
                    user=user,
                    task=task,
                    level=level,
                    time_off_until=membership.time_off_until,
                    excluded=user.pk in excluded,
                    conflict=barred.get(user.pk),
                ),
            )
        )
    result.sort(key=sort_key)
    for rank, candidate in enumerate((c for c in result if c.eligible), start=1):
        candidate.rank = rank
    return result


def nearness(reasons: list[Reason]) -> tuple:
    """How far from eligible: only away/time off (a lead may override), then only busy (will
    free up), then the rest (skill, four-eyes, inactive); fewer reasons nearer."""
    kinds = {r.kind for r in reasons}
    if kinds <= OVERRIDABLE:
        tier = 0
    elif kinds <= OVERRIDABLE | {CAPACITY}:
        tier = 1
    else:
        tier = 2
    return (tier, len(reasons))


def best_candidates(
    *, task: Task, exclude: Iterable = (), at: datetime | None = None, limit: int = TOP_N
) -> list[Candidate]:
    """The `limit` best eligible people, filtered and ranked by the database: one query that
    returns at most `limit` rows, so auto-assignment costs the same in a team of 10 or 1,000.

    Same eligibility and order as candidates() (a test holds them together); the load ratio
    is computed as a double in SQL, which rounds exactly as Python's division does, so equal
    ratios stay equal. Written as SQL because this is the hot path of every auto-assignment:
    the ORM took four times longer to build the query than the database took to run it.
    """
    at = at or timezone.now()
    excluded = sorted(_excluded_ids(exclude) | set(four_eyes.conflicts(task=task)))
    sql = _best_candidates_sql(
        vendor=connection.vendor, with_skill=bool(task.required_skill_id), excluded=len(excluded)
    )
    adapt = connection.ops.adapt_datetimefield_value
    params: list = [task.team_id]
    if task.required_skill_id:
        params += [task.required_skill_id, task.min_level]
    params += [True, False, adapt(at), adapt(at), *excluded, limit]
    ranked = [
        Candidate(user=user, level=user.level or 0, time_off_until=None)
        for user in User.objects.raw(sql, params)
    ]
    for rank, candidate in enumerate(ranked, start=1):
        candidate.rank = rank
    return ranked


@functools.cache
def _best_candidates_sql(*, vendor: str, with_skill: bool, excluded: int) -> str:
    """The query for one shape (vendor, skill or not, how many excluded), built once."""
    q = connection.ops.quote_name

    def table(model) -> str:
        return q(model._meta.db_table)

    def col(model, name: str) -> str:
        return q(model._meta.get_field(name).column)

    fields = ", ".join(f"u.{col(User, f)}" for f in ("id", *CANDIDATE_FIELDS))
    skill_join = (
        f"JOIN {table(PersonSkill)} s ON s.{col(PersonSkill, 'user')} = u.{col(User, 'id')} "
        f"AND s.{col(PersonSkill, 'skill')} = %s AND s.{col(PersonSkill, 'level')} >= %s "
        if with_skill
        else ""
    )
    level = f"s.{col(PersonSkill, 'level')}" if with_skill else "0"
    not_excluded = (
        f"AND u.{col(User, 'id')} NOT IN ({', '.join(['%s'] * excluded)}) " if excluded else ""
    )
    last = f"u.{col(User, 'last_assigned_at')}"
    return (
        f"SELECT {fields}, {level} AS level FROM {table(User)} u "
        f"JOIN {table(Membership)} m ON m.{col(Membership, 'user')} = u.{col(User, 'id')} "
        f"AND m.{col(Membership, 'team')} = %s "
        f"{skill_join}"
        f"WHERE u.{col(User, 'is_active')} = %s AND u.{col(User, 'is_away')} = %s "
        f"AND u.{col(User, 'active_count')} < u.{col(User, 'capacity')} "
        f"AND NOT EXISTS (SELECT 1 FROM {table(TimeOff)} t "
        f"WHERE t.{col(TimeOff, 'user')} = u.{col(User, 'id')} "
        f"AND t.{col(TimeOff, 'starts')} <= %s AND t.{col(TimeOff, 'ends')} > %s) "
        f"{not_excluded}"
        f"ORDER BY CAST(u.{col(User, 'active_count')} AS DOUBLE PRECISION) "
        f"/ CAST(u.{col(User, 'capacity')} AS DOUBLE PRECISION), level DESC, "
        f"{last} IS NOT NULL, {last}, u.{col(User, 'id')} LIMIT %s"
    )


def sort_key(candidate: Candidate) -> tuple:
    user = candidate.user
    return (
        not candidate.eligible,
        *nearness(candidate.reasons),
        *rank_key(
            active=user.active_count,
            capacity=user.capacity,
            level=candidate.level,
            last=recency(user.last_assigned_at),
            pk=user.pk,
        ),
    )


def refusal_for(*, candidate: Candidate, task: Task, by: User | None) -> str:
    """The sentence refusing to give `task` to an ineligible `candidate`: four-eyes says who
    did what ("You did Train model in this run; someone else must review it."), anything else
    lists the reasons."""
    conflict = four_eyes.conflict_of(task=task, user=candidate.user)
    if conflict is not None:
        return conflict.sentence(by=by)
    return _("%(name)s can't take this task: %(reasons)s.") % {
        "name": candidate.user.display_name,
        "reasons": "; ".join(candidate.reason_texts),
    }


def latest_decision(*, task: Task) -> AssignmentDecision | None:
    return AssignmentDecision.objects.filter(task=task).select_related("assignee", "by").first()


def waiting(*, task: Task) -> WaitingTask | None:
    return WaitingTask.objects.filter(task=task).first()


@dataclass
class WorkloadRow:
    user: User
    role: str
    skills: list[PersonSkill]
    time_off: list[TimeOff]
    on_time_off_until: datetime | None

    @property
    def load_percent(self) -> int:
        return min(100, round(ratio(self.user.active_count, self.user.capacity) * 100))

    @property
    def free(self) -> int:
        return max(0, self.user.capacity - self.user.active_count)


def workload(*, team: Team, at: datetime | None = None) -> list[WorkloadRow]:
    """Each member's load against capacity, skills and time off: three queries in all."""
    at = at or timezone.now()
    memberships = list(team_memberships(team_id=team.pk, at=at))
    user_ids = [m.user_id for m in memberships]
    skills: dict[int, list[PersonSkill]] = {}
    for ps in PersonSkill.objects.filter(user_id__in=user_ids).select_related("skill"):
        skills.setdefault(ps.user_id, []).append(ps)
    time_off: dict[int, list[TimeOff]] = {}
    for t in TimeOff.objects.filter(user_id__in=user_ids, ends__gt=at).order_by("starts"):
        time_off.setdefault(t.user_id, []).append(t)
    rows = [
        WorkloadRow(
            user=m.user,
            role=m.role,
            skills=sorted(skills.get(m.user_id, []), key=lambda ps: (-ps.level, ps.skill.name)),
            time_off=time_off.get(m.user_id, []),
            on_time_off_until=m.time_off_until,
        )
        for m in memberships
    ]
    rows.sort(key=lambda r: (-ratio(r.user.active_count, r.user.capacity), r.user.username))
    return rows


def waiting_tasks(*, team: Team) -> QuerySet[WaitingTask]:
    return (
        WaitingTask.objects.filter(team=team, task__state=State.TODO)
        .select_related("task")
        .order_by("-task__priority", "since")
    )


def pending_count(*, team: Team) -> int:
    """Unassigned `todo` tasks in the team (what "Auto-assign pending" would try)."""
    return Task.objects.filter(team=team, state=State.TODO, assignee__isnull=True).count()


def may_auto_assign_pending(*, team: Team, user: User) -> bool:
    """Assigning a team's whole backlog at once is its leads' call (the Workload page's button
    shows for them; services.batch.auto_assign_pending refuses anyone else)."""
    return people.is_lead(team_id=team.pk, user=user)
