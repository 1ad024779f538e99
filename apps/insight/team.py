"""A team's flow over a period, read from the transition log (django-fsm-log's StateLog rows
that apps.tasks.writes writes, one per transition) and the tasks' own created_at.

Two queries for every chart: the team's tasks that existed by the period's end, and their
log rows up to that end, in time order. Each task's state on each day is replayed from them
in Python (a task is To do from created_at until its first log row). The figures are the same
on SQLite and PostgreSQL because no database-specific date function is used.

Load uses each task's *current* assignee: the log does not record who held a task earlier.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django_fsm_log.models import StateLog

from apps.people.models import Team, User
from apps.tasks.models import ACTIVE_STATES, LIFECYCLE_ORDER, State, Task, WipLimits


@dataclass
class TeamFlow:
    start: date
    end: date
    days: list[date]
    cfd: dict[str, list[int]]  # state → count at the end of each day
    throughput: list[tuple[date, int]]  # week's Monday → tasks done that week
    cycle: list[tuple[int, str, date, float]]  # task id, title, done day, days started → done
    p50: float | None
    p85: float | None
    wip: dict[str, list[int]]  # active state → count at the end of each day
    limits: dict[str, int]
    load: dict[str, list[int]]  # person → open assigned tasks at the end of each day
    capacity: dict[str, int] = field(default_factory=dict)
    overloaded: list[str] = field(default_factory=list)
    idle: list[str] = field(default_factory=list)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def _end_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def team_flow(*, team: Team, start: date, end: date) -> TeamFlow:
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    until = _end_of(end)
    tasks = list(
        Task.objects.filter(team=team, created_at__lt=until).values_list(
            "pk", "title", "created_at", "assignee_id"
        )
    )
    logs = defaultdict(list)
    rows = (
        StateLog.objects.filter(
            content_type=ContentType.objects.get_for_model(Task),
            object_id__in=Task.objects.filter(team=team, created_at__lt=until).values("pk"),
            timestamp__lt=until,
        )
        .order_by("timestamp", "pk")
        .values_list("object_id", "state", "timestamp")
    )
    for task_id, state, at in rows:
        logs[task_id].append((at, state))
    ends = [_end_of(day) for day in days]
    states = [s for s in LIFECYCLE_ORDER]
    cfd = {s: [0] * len(days) for s in states}
    per_person = defaultdict(lambda: [0] * len(days))
    done_weeks: Counter = Counter()
    cycle = []
    for pk, title, created, assignee_id in tasks:
        history = [(created, State.TODO), *logs.get(pk, [])]
        i = 0
        current = None
        for d, day_end in enumerate(ends):
            while i < len(history) and history[i][0] < day_end:
                current = history[i][1]
                i += 1
            if current is None:
                continue
            cfd[current][d] += 1
            if assignee_id and current in ACTIVE_STATES:
                per_person[assignee_id][d] += 1
        started = None
        for at, state in history:
            if state == State.IN_PROGRESS and started is None:
                started = at
            if state == State.DONE:
                done_day = timezone.localdate(at)
                if start <= done_day <= end:
                    done_weeks[done_day - timedelta(days=done_day.weekday())] += 1
                    if started is not None:
                        days_taken = round((at - started).total_seconds() / 86400, 2)
                        cycle.append((pk, title, done_day, days_taken))
    first_monday = start - timedelta(days=start.weekday())
    weeks = []
    monday = first_monday
    while monday <= end:
        weeks.append((monday, done_weeks.get(monday, 0)))
        monday += timedelta(days=7)
    limits_row = WipLimits.objects.filter(team=team).first()
    people = {u.pk: u for u in User.objects.filter(memberships__team=team).order_by("username")}
    load = {people[pk].display_name: counts for pk, counts in per_person.items() if pk in people}
    for person in people.values():
        load.setdefault(person.display_name, [0] * len(days))
    capacity = {p.display_name: p.capacity for p in people.values()}
    durations = [c[3] for c in cycle]
    return TeamFlow(
        start=start,
        end=end,
        days=days,
        cfd=cfd,
        throughput=weeks,
        cycle=cycle,
        p50=percentile(durations, 50),
        p85=percentile(durations, 85),
        wip={s: cfd[s] for s in ACTIVE_STATES},
        limits=dict(limits_row.limits) if limits_row else {},
        load=dict(sorted(load.items())),
        capacity=capacity,
        overloaded=sorted(n for n, c in load.items() if c and c[-1] > capacity[n]),
        idle=sorted(n for n, c in load.items() if not c or c[-1] == 0),
    )
