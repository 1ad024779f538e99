"""A team's flow over a period, read from the transition log (django-fsm-log's StateLog rows
that apps.tasks.writes writes, one per transition, with the state left and the state entered)
and the tasks' own created_at.

The database does the counting, in four queries that are the same on SQLite and PostgreSQL
(the day of a timestamp is Django's own date cast in the current time zone):
- the tasks that were done or cancelled before the period started, counted by state: both
  states are final, so these tasks sit in them on every day of the period and their history
  is not read again;
- every other task's creation (into To do) per day and person, and its log rows per day,
  person, state left and state entered (the index of migration tasks 0011 reads them per
  task). Each day's counts are then a running sum of those entries and exits;
- the tasks done in the period with their first start (cycle time).
So a period's cost grows with the work that moved in it, not with the team's whole history.

Load uses each task's *current* assignee: the log does not record who held a task earlier.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from django_fsm_log.models import StateLog

from apps.people.models import Team, User
from apps.tasks.models import ACTIVE_STATES, LIFECYCLE_ORDER, State, Task, WipLimits

from .flow import fetch_all

FINAL_STATES = (State.DONE, State.CANCELLED)
# The control chart and its table draw the latest tasks only (a year of a busy team is
# 100,000 points); its percentiles and the CSV use every task.
CYCLE_SHOWN = 400
LATERAL_DAYS = 190


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

    @property
    def cycle_shown(self) -> list[tuple[int, str, date, float]]:
        return self.cycle[-CYCLE_SHOWN:]


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _end_of(day: date) -> datetime:
    return _start_of(day + timedelta(days=1))


def _day(value) -> date:
    """The database's date cast: a date on PostgreSQL, an ISO string on SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def _live(*, team: Team, since: datetime, until: datetime) -> tuple[str, list]:
    """The WHERE clause of the team's tasks created before `until` that were not already done
    or cancelled at `since`, written so that the board's (team, state, finished_at) index
    finds them."""
    unfinished = [s for s in LIFECYCLE_ORDER if s not in FINAL_STATES]
    marks = ", ".join(["%s"] * len(unfinished))
    sql = (
        f"t.team_id = %s AND t.created_at < %s AND (t.state IN ({marks}) "
        "OR (t.state IN (%s, %s) AND (t.finished_at >= %s OR t.finished_at IS NULL)))"
    )
    return sql, [team.pk, until, *unfinished, *FINAL_STATES, since]


def _log_of_each(columns: str, condition: str, *, days: int) -> str:
    """FROM tasks `t` and, for each, its log rows `l` matching `condition`. On PostgreSQL,
    for periods up to LATERAL_DAYS, a LATERAL subquery, so that the few tasks of a short
    period are looked up in the log's (content_type, object_id, state, timestamp,
    source_state) index one by one where the planner would read the whole log to join it
    (4 weeks of the bench: 200 → 130 ms); longer periods touch most of the log, which the
    planner's hash join reads faster (a year: 1.3 s against 3.4 s). A plain join on SQLite."""
    task, log = Task._meta.db_table, StateLog._meta.db_table
    on = f"l.content_type_id = %s AND l.object_id = t.id AND {condition}"
    if connection.vendor == "postgresql":
        return f"{task} t CROSS JOIN LATERAL (SELECT {columns} FROM {log} l WHERE {on} OFFSET 0) l"
    return f"{task} t JOIN {log} l ON {on}"


def _moves_per_day(*, team: Team, since: datetime, until: datetime) -> list[tuple]:
    """(assignee id, day, state left, state entered, how many) for the creations (left: None)
    and log rows before `until` of the team's tasks that were not already final at `since`."""
    zone = timezone.get_current_timezone_name()
    created_day, created_params = connection.ops.datetime_cast_date_sql("t.created_at", (), zone)
    moved_day, moved_params = connection.ops.datetime_cast_date_sql("l.timestamp", (), zone)
    live, live_params = _live(team=team, since=since, until=until)
    days, moved = (until - since).days, "l.timestamp, l.source_state, l.state"
    sql = (
        f"SELECT t.assignee_id, {created_day}, NULL, %s, COUNT(*) FROM {Task._meta.db_table} t "
        f"WHERE {live} GROUP BY 1, 2 "
        f"UNION ALL "
        f"SELECT t.assignee_id, {moved_day}, l.source_state, l.state, COUNT(*) "
        f"FROM {_log_of_each(moved, 'l.timestamp < %s', days=days)} "
        f"WHERE {live} GROUP BY 1, 2, 3, 4"
    )
    kind = ContentType.objects.get_for_model(Task).pk
    params = [*created_params, State.TODO, *live_params]
    params += [*moved_params, kind, until, *live_params]
    return fetch_all(sql, params)


def _seconds_between(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {later} - {earlier})"
    return f"(julianday({later}) - julianday({earlier})) * 86400"


def _done_in(*, team: Team, since: datetime, until: datetime) -> list[tuple]:
    """(task id, title, day done, seconds from its first start to done) of the team's tasks
    done in the period after being started, in the order they were done. The database works
    out the day and the seconds: over a busy period these are thousands of rows."""
    log = StateLog._meta.db_table
    live, live_params = _live(team=team, since=since, until=until)
    days = (until - since).days
    zone = timezone.get_current_timezone_name()
    done_day, day_params = connection.ops.datetime_cast_date_sql("c.done_at", (), zone)
    done = "l.state = %s AND l.timestamp >= %s AND l.timestamp < %s"
    sql = (
        f"SELECT c.id, c.title, {done_day}, {_seconds_between('c.done_at', 'c.started_at')} "
        f"FROM (SELECT t.id, t.title, l.id AS log_id, l.timestamp AS done_at, "
        f"(SELECT MIN(s.timestamp) FROM {log} s WHERE s.content_type_id = %s "
        f"AND s.object_id = t.id AND s.state = %s AND s.timestamp <= l.timestamp) AS started_at "
        f"FROM {_log_of_each('l.id, l.timestamp', done, days=days)} WHERE {live}) c "
        f"WHERE c.started_at IS NOT NULL ORDER BY c.done_at, c.log_id"
    )
    kind = ContentType.objects.get_for_model(Task).pk
    params = [*day_params, kind, State.IN_PROGRESS, kind, State.DONE, since, until]
    return fetch_all(sql, [*params, *live_params])


def team_flow(*, team: Team, start: date, end: date, only: str | None = None) -> TeamFlow:
    """Every chart's figures, or, with `only` (a CSV's chart), just the ones it needs: the
    control chart reads the tasks done in the period, every other chart the day counts."""
    counts, cycles = only != "cycle", only in (None, "cycle")
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    since, until = _start_of(start), _end_of(end)
    index = {day: i for i, day in enumerate(days)}
    # Entries (+1) and exits (-1) per state and day; index 0 holds everything before the
    # period, so day i's count is the running sum up to i + 1.
    states = list(LIFECYCLE_ORDER)
    deltas = {s: [0] * (len(days) + 1) for s in states}
    person_deltas = defaultdict(lambda: [0] * (len(days) + 1))
    done_per_day: Counter = Counter()
    settled = (
        Task.objects.filter(
            team=team, created_at__lt=until, state__in=FINAL_STATES, finished_at__lt=since
        )
        .values("state")
        .annotate(n=Count("pk"))
    )
    for row in settled if counts else []:
        deltas[row["state"]][0] += row["n"]
    moves = _moves_per_day(team=team, since=since, until=until) if counts else []
    for assignee_id, day, left, entered, n in moves:
        day = _day(day)
        i = 0 if day < start else index[day] + 1
        if entered in deltas:
            deltas[entered][i] += n
        if left in deltas:
            deltas[left][i] -= n
        if assignee_id:
            if entered in ACTIVE_STATES:
                person_deltas[assignee_id][i] += n
            if left in ACTIVE_STATES:
                person_deltas[assignee_id][i] -= n
        if entered == State.DONE and i:
            done_per_day[day] += n

    def running(values: list[int]) -> list[int]:
        total, out = values[0], []
        for v in values[1:]:
            total += v
            out.append(total)
        return out

    cfd = {s: running(deltas[s]) for s in states}
    per_person = {pk: running(v) for pk, v in person_deltas.items()}
    cycle = []
    done = _done_in(team=team, since=since, until=until) if cycles else []
    for pk, title, day, seconds in done:
        cycle.append((pk, title, _day(day), round(float(seconds) / 86400, 2)))
    done_weeks: Counter = Counter()
    for day, n in done_per_day.items():
        done_weeks[day - timedelta(days=day.weekday())] += n
    weeks = []
    monday = start - timedelta(days=start.weekday())
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
