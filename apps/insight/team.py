"""A team's flow over a period, read from the insight summary (apps/insight/models.py), which
triggers keep from the transition log (django-fsm-log's StateLog rows, one per transition,
with the state left and the state entered) and the tasks' own created_at.

Three queries, none reading the log: the first grows with the period's days and people, the
others with the tasks done in the period (never with the team's history):
- DayFlow's entries and exits per person, day and state, the days before the period summed
  into one; each day's count per state is then a running sum (CFD, WIP, load, throughput);
- the tasks done in the period with their first start (TaskFlow): the control chart's latest
  CYCLE_SHOWN points (the CSV reads them all), and in one more query how many there are and
  the two percentiles' values picked by rank.

Load uses each task's *current* assignee: the log does not record who held a task earlier.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Case, F, Sum, When
from django.utils import timezone

from apps.people.models import Team, User
from apps.tasks.models import ACTIVE_STATES, LIFECYCLE_ORDER, State, WipLimits

from .flow import fetch_all
from .models import DayFlow, TaskFlow

# The control chart and its table draw the latest tasks only (a year of a busy team is
# 100,000 points); its percentiles and the CSV use every task.
CYCLE_SHOWN = 400
PERCENTILES = (50, 85)


@dataclass
class TeamFlow:
    start: date
    end: date
    days: list[date]
    cfd: dict[str, list[int]]  # state → count at the end of each day
    throughput: list[tuple[date, int]]  # week's Monday → tasks done that week
    # task id, title, done day, days started → done: the latest CYCLE_SHOWN (all for the CSV)
    cycle: list[tuple[int, str, date, float]]
    cycle_count: int  # tasks done in the period after being started
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
    return ordered[_rank(len(ordered), p) - 1]


def _rank(n: int, p: int) -> int:
    """The nearest rank (1-based) of the p-th percentile of n values; SQL below says the same
    as (n * p + 99) / 100 in integers."""
    return max(1, -(-n * p // 100))


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _end_of(day: date) -> datetime:
    return _start_of(day + timedelta(days=1))


def _day(value) -> date:
    """The database's date cast: a date on PostgreSQL, an ISO string on SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def _day_moves(*, team: Team, start: date, end: date) -> list[dict]:
    """Entries and exits per person, day (None: before the period) and state, up to `end`."""
    return list(
        DayFlow.objects.filter(team=team, day__lte=end)
        .annotate(bucket=Case(When(day__lt=start, then=None), default=F("day")))
        .values("person_id", "bucket", "state")
        .annotate(entered=Sum("entries"), left=Sum("exits"))
        .order_by()
    )


def _days(seconds) -> float:
    """Seconds as days, to the hundredth, as the chart, its table and the CSV show them."""
    return round(float(seconds) / 86400, 2)


def _seconds_between(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        # float8, not EXTRACT's numeric: sorting 100,000 of them for a percentile is 4x faster.
        return f"EXTRACT(EPOCH FROM {later} - {earlier})::float8"
    return f"(julianday({later}) - julianday({earlier})) * 86400"


DONE_IN = (
    f"FROM {TaskFlow._meta.db_table} f WHERE f.team_id = %s AND f.done_at >= %s "
    "AND f.done_at < %s AND f.started_at <= f.done_at"
)


def _done_in(*, team: Team, since: datetime, until: datetime, every: bool) -> list[tuple]:
    """(task id, title, day done, seconds from first start to done) of the team's tasks done
    in the period after being started, in the order they were done: all of them with `every`
    (the CSV), else the latest CYCLE_SHOWN, read backwards down TaskFlow's (team, done_at)
    index (a year of a busy team is 100,000 tasks)."""
    zone = timezone.get_current_timezone_name()
    done_day, day_params = connection.ops.datetime_cast_date_sql("f.done_at", (), zone)
    seconds = _seconds_between("f.done_at", "f.started_at")
    order = " ORDER BY f.done_at, f.task_id"
    if not every:
        order = f" ORDER BY f.done_at DESC, f.task_id DESC LIMIT {CYCLE_SHOWN}"
    sql = (
        f"SELECT f.task_id, (SELECT t.title FROM tasks_task t WHERE t.id = f.task_id), "
        f"{done_day}, {seconds} {DONE_IN}{order}"
    )
    rows = fetch_all(sql, [*day_params, team.pk, since, until])
    return rows if every else rows[::-1]


def _cycle_ranks(*, team: Team, since: datetime, until: datetime) -> tuple[int, dict]:
    """How many tasks were done in the period after being started, and the seconds each of
    PERCENTILES took at its nearest rank: on PostgreSQL percentile_disc picks them (at a
    fraction just under rank / n, so that floating point cannot move it to the next rank);
    SQLite, which has no such aggregate, sends the seconds and Python picks."""
    seconds = _seconds_between("f.done_at", "f.started_at")
    params = [team.pk, since, until]
    if connection.vendor != "postgresql":
        values = sorted(float(v) for (v,) in fetch_all(f"SELECT {seconds} {DONE_IN}", params))
        return len(values), {p: values[_rank(len(values), p) - 1] for p in PERCENTILES if values}
    ranks = ", ".join(f"((n.n * {p} + 99) / 100 - 0.5) / n.n" for p in PERCENTILES)
    rows = fetch_all(
        f"WITH c AS MATERIALIZED (SELECT {seconds} AS s {DONE_IN}), "
        f"n AS (SELECT COUNT(*) AS n FROM c) SELECT n.n, (SELECT percentile_disc(ARRAY[{ranks}]) "
        "WITHIN GROUP (ORDER BY c.s) FROM c) FROM n WHERE n.n > 0",
        params,
    )
    if not rows:
        return 0, {}
    count, values = rows[0]
    return count, {p: float(v) for p, v in zip(PERCENTILES, values, strict=True)}


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
    for row in _day_moves(team=team, start=start, end=end) if counts else []:
        day, state = row["bucket"], row["state"]
        i = 0 if day is None else index[_day(day)] + 1
        net = row["entered"] - row["left"]
        if state in deltas:
            deltas[state][i] += net
        if row["person_id"] and state in ACTIVE_STATES:
            person_deltas[row["person_id"]][i] += net
        if state == State.DONE and i:
            done_per_day[_day(day)] += row["entered"]

    def running(values: list[int]) -> list[int]:
        total, out = values[0], []
        for v in values[1:]:
            total += v
            out.append(total)
        return out

    cfd = {s: running(deltas[s]) for s in states}
    per_person = {pk: running(v) for pk, v in person_deltas.items()}
    cycle, count, at_rank = [], 0, {}
    if cycles:
        every = only == "cycle"
        for pk, title, day, seconds in _done_in(team=team, since=since, until=until, every=every):
            cycle.append((pk, title, _day(day), _days(seconds)))
        count, at_rank = _cycle_ranks(team=team, since=since, until=until)
    p50, p85 = (_days(at_rank[p]) if p in at_rank else None for p in PERCENTILES)
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
    return TeamFlow(
        start=start,
        end=end,
        days=days,
        cfd=cfd,
        throughput=weeks,
        cycle=cycle,
        cycle_count=count,
        p50=p50,
        p85=p85,
        wip={s: cfd[s] for s in ACTIVE_STATES},
        limits=dict(limits_row.limits) if limits_row else {},
        load=dict(sorted(load.items())),
        capacity=capacity,
        overloaded=sorted(n for n, c in load.items() if c and c[-1] > capacity[n]),
        idle=sorted(n for n, c in load.items() if not c or c[-1] == 0),
    )
