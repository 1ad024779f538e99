"""A workflow template's flow, step by step, read from the tasks and the insight summary.

The tasks of the template's steps created in the period are found through the index of
(step, created_at) (migration tasks 0016); each one's first entry into `in_progress` is its
TaskFlow row (apps/insight/models.py, kept by triggers from the transition log), one step
down its primary key instead of a search of the task's log rows (a join would read all of
TaskFlow for a short period). On PostgreSQL one query gives every step's
medians and p85 (percentile_cont), counts, SLA misses and time spent; SQLite, which has no
percentile aggregate, reads the tasks' rows and computes the same figures here. Three more
queries, the same on both, count finished tasks per step and outcome (loop-backs, yield,
arrows) and read the runs finished in the period (run yield, lead times). The period is at
most a year (forms.PeriodForm); bench/insight.py measures it at 100,000 tasks.

Definitions (the page says them too):
- waiting: created → first start (entry into in_progress). A task decided without ever being
  started (a review approved straight from "assigned") waited until it was decided and has no
  working time.
- working: first start → finished.
- loop-back: a finished task whose outcome's route goes back to a step already on the path
  (the diagram's loop-backs, apps.workflows.diagram.loop_backs). Loop-back rate = loop-backs /
  finished tasks of the step; they are listed by where they go.
- first-pass yield: of a step's first attempts (iteration 1) that finished, the share that went
  forward; for the whole template, the share of runs finished in the period that completed
  without any loop-back.
- SLA missed: the task finished after its due time (set from the step's SLA), or is still open
  past it.
- lead time: a completed run's start → finish.
- bottleneck: the step whose tasks took the largest share of all the time tasks spent in the
  template's steps (waiting + working), i.e. the one contributing most to lead time.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.http import Http404
from django.utils import timezone

from apps.people.models import Team
from apps.tasks.models import State, Task
from apps.workflows.diagram import loop_backs
from apps.workflows.models import Route, Run, RunStatus, Step, WorkflowTemplate

from .models import TaskFlow

HISTOGRAM_BINS = 8


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    label: str


def template_versions(*, team: Team, slug: str) -> list[WorkflowTemplate]:
    """Every version of the team's template with this slug, newest first; 404 if none."""
    versions = list(WorkflowTemplate.objects.filter(team=team, slug=slug).order_by("-version"))
    if not versions:
        raise Http404("No such workflow in this team.")
    return versions


def team_templates(*, team: Team) -> QuerySet[WorkflowTemplate]:
    """The team's templates, one row per slug (the current version)."""
    return WorkflowTemplate.objects.filter(team=team, is_current=True).order_by("name")


def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile (0-100) by linear interpolation between closest ranks, as
    PostgreSQL's percentile_cont: the median of 1, 2, 3, 4 is 2.5."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class LoopBack:
    source: str  # step key
    source_name: str
    target: str
    target_name: str
    count: int
    rate: float  # of the source step's finished tasks


@dataclass
class StepFigures:
    key: str
    name: str
    runs: int = 0
    tasks: int = 0
    finished: int = 0
    waiting_median: float | None = None
    waiting_p85: float | None = None
    working_median: float | None = None
    working_p85: float | None = None
    loop_backs: int = 0
    first_attempts: int = 0
    first_pass: int = 0
    sla_tracked: int = 0
    sla_missed: int = 0
    time_spent: float = 0.0  # seconds, waiting + working, all tasks

    @property
    def median_total(self) -> float | None:
        """Median waiting + median working: how long the step typically holds a run."""
        parts = [m for m in (self.waiting_median, self.working_median) if m is not None]
        return sum(parts) if parts else None

    @property
    def loop_back_rate(self) -> float | None:
        return self.loop_backs / self.finished if self.finished else None

    @property
    def first_pass_yield(self) -> float | None:
        return self.first_pass / self.first_attempts if self.first_attempts else None


@dataclass
class Bin:
    start: float
    end: float
    count: int


@dataclass
class WorkflowInsight:
    template: WorkflowTemplate  # the version whose diagram is drawn
    versions: list[WorkflowTemplate]
    period: Period
    steps: list[StepFigures]
    loops: list[LoopBack]
    edge_runs: dict  # (from step id, to step id | "end") on the drawn version → tasks that took it
    lead_times: list[float]
    runs_finished: int
    runs_first_pass: int
    bottleneck: StepFigures | None
    bottleneck_share: float | None
    diagram_steps: list[Step]
    diagram_routes: list[Route]

    @property
    def lead_median(self) -> float | None:
        return percentile(self.lead_times, 50)

    @property
    def lead_p85(self) -> float | None:
        return percentile(self.lead_times, 85)

    @property
    def run_yield(self) -> float | None:
        return self.runs_first_pass / self.runs_finished if self.runs_finished else None

    @property
    def histogram(self) -> list[Bin]:
        return histogram(self.lead_times)

    @property
    def has_data(self) -> bool:
        return any(s.tasks for s in self.steps) or bool(self.lead_times)


def histogram(values: list[float], bins: int = HISTOGRAM_BINS) -> list[Bin]:
    """Equal-width bins from 0 to the largest value (the last bin includes it)."""
    if not values:
        return []
    top = max(values) or 1.0
    width = top / bins
    counts = [0] * bins
    for v in values:
        counts[min(int(v / width), bins - 1)] += 1
    return [Bin(start=i * width, end=(i + 1) * width, count=c) for i, c in enumerate(counts)]


def task_rows(*, step_ids: list[int], period: Period) -> list[dict]:
    started = TaskFlow.objects.filter(task_id=OuterRef("pk")).values("started_at")[:1]
    return list(
        Task.objects.filter(
            step_id__in=step_ids, created_at__gte=period.start, created_at__lt=period.end
        )
        .annotate(started_at=Subquery(started))
        .values(
            "run_id",
            "step_id",
            "state",
            "outcome",
            "iteration",
            "created_at",
            "started_at",
            "finished_at",
            "due_at",
        )
    )


@dataclass
class StepTimes:
    """The figures of one step (key) that need each task's first start."""

    tasks: int = 0
    runs: int = 0
    waiting_median: float | None = None
    waiting_p85: float | None = None
    working_median: float | None = None
    working_p85: float | None = None
    time_spent: float = 0.0
    sla_tracked: int = 0
    sla_missed: int = 0


STEP_TIMES_SQL = """
WITH rows AS MATERIALIZED (
    SELECT s.key, t.run_id, t.created_at, t.due_at, t.finished_at,
           (t.state = %(done)s AND t.finished_at IS NOT NULL) AS done,
           (SELECT f.started_at FROM {flow} f WHERE f.task_id = t.id) AS started
    FROM {task} t JOIN {step} s ON s.id = t.step_id
    WHERE t.step_id = ANY(%(steps)s) AND t.created_at >= %(start)s AND t.created_at < %(end)s
), spans AS (
    SELECT key, run_id, due_at, done, finished_at, started,
           EXTRACT(EPOCH FROM CASE WHEN started IS NOT NULL THEN started - created_at
                                   WHEN done THEN finished_at - created_at END) AS waiting,
           EXTRACT(EPOCH FROM CASE WHEN started IS NOT NULL AND done
                                   THEN finished_at - started END) AS working,
           EXTRACT(EPOCH FROM CASE WHEN done THEN finished_at - created_at
                                   WHEN started IS NOT NULL THEN %(now)s - created_at END) AS spent
    FROM rows
)
SELECT key, COUNT(*), COUNT(DISTINCT run_id),
       percentile_cont(ARRAY[0.5, 0.85]) WITHIN GROUP (ORDER BY waiting),
       percentile_cont(ARRAY[0.5, 0.85]) WITHIN GROUP (ORDER BY working),
       COALESCE(SUM(spent), 0), COUNT(due_at),
       COUNT(*) FILTER (WHERE CASE WHEN done THEN finished_at ELSE %(now)s END > due_at)
FROM spans GROUP BY key
"""


def fetch_all(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _step_times_in_sql(*, step_ids: list[int], period: Period, now: datetime) -> dict:
    """PostgreSQL: every step's times in one query, percentile_cont per step (the same
    interpolation as percentile() here)."""
    sql = STEP_TIMES_SQL.format(
        flow=TaskFlow._meta.db_table, task=Task._meta.db_table, step=Step._meta.db_table
    )
    params = {
        "done": State.DONE,
        "steps": step_ids,
        "start": period.start,
        "end": period.end,
        "now": now,
    }
    times = {}
    for key, tasks, runs, waiting, working, spent, tracked, missed in fetch_all(sql, params):
        waiting, working = waiting or [None, None], working or [None, None]
        times[key] = StepTimes(
            tasks=tasks,
            runs=runs,
            waiting_median=waiting[0],
            waiting_p85=waiting[1],
            working_median=working[0],
            working_p85=working[1],
            time_spent=float(spent),
            sla_tracked=tracked,
            sla_missed=missed,
        )
    return times


def _step_times_in_python(*, by_id: dict, period: Period, now: datetime) -> dict:
    """SQLite (no percentile aggregate): the tasks' rows, and the same figures computed here."""
    waiting, working = defaultdict(list), defaultdict(list)
    runs: dict[str, set] = defaultdict(set)
    times: dict[str, StepTimes] = defaultdict(StepTimes)
    for row in task_rows(step_ids=list(by_id), period=period):
        key = by_id[row["step_id"]].key
        f = times[key]
        f.tasks += 1
        runs[key].add(row["run_id"])
        created, started, finished = row["created_at"], row["started_at"], row["finished_at"]
        done = row["state"] == State.DONE and finished is not None
        if started is not None:
            waiting[key].append((started - created).total_seconds())
            if done:
                working[key].append((finished - started).total_seconds())
                f.time_spent += (finished - created).total_seconds()
            else:
                f.time_spent += (now - created).total_seconds()
        elif done:
            waiting[key].append((finished - created).total_seconds())
            f.time_spent += (finished - created).total_seconds()
        if row["due_at"] is not None:
            f.sla_tracked += 1
            if (finished if done else now) > row["due_at"]:
                f.sla_missed += 1
    for key, f in times.items():
        f.runs = len(runs[key])
        f.waiting_median, f.waiting_p85 = percentile(waiting[key], 50), percentile(waiting[key], 85)
        f.working_median, f.working_p85 = percentile(working[key], 50), percentile(working[key], 85)
    return dict(times)


def _lead_times(*, runs: QuerySet[Run]) -> list[float]:
    """Seconds from start to finish of each run (completed ones, as `runs` says)."""
    if connection.vendor == "postgresql":
        seconds = Func(
            F("finished_at") - F("started_at"),
            template="EXTRACT(EPOCH FROM %(expressions)s)",
            output_field=FloatField(),
        )
        return [float(v) for v in runs.annotate(seconds=seconds).values_list("seconds", flat=True)]
    return [
        (end - begin).total_seconds()
        for begin, end in runs.values_list("started_at", "finished_at")
    ]


def workflow_insight(
    *, versions: list[WorkflowTemplate], chosen: WorkflowTemplate | None, period: Period
) -> WorkflowInsight:
    """The figures of `chosen` (a version), or of every version when it is None; steps of
    different versions with the same key count as one step."""
    counted = [chosen] if chosen else versions
    drawn = chosen or versions[0]
    steps = list(
        Step.objects.filter(template__in=counted).select_related("required_skill", "template")
    )
    routes = list(Route.objects.filter(template__in=counted))
    by_id = {s.pk: s for s in steps}
    # Loop-back edges and where each (step, outcome) leads, per version.
    back: set = set()
    route_to: dict = {}
    for version in counted:
        vs = [s for s in steps if s.template_id == version.pk]
        vr = [r for r in routes if r.template_id == version.pk]
        back |= loop_backs(vs, vr)
        for r in vr:
            route_to.setdefault((r.from_step_id, r.outcome), []).append(r.to_step_id)
    drawn_steps = [s for s in steps if s.template_id == drawn.pk]
    drawn_key = {s.key: s.pk for s in drawn_steps}
    figures: dict[str, StepFigures] = {}
    for s in sorted(drawn_steps, key=lambda s: (s.position, s.pk)) + steps:
        figures.setdefault(s.key, StepFigures(key=s.key, name=s.name))

    now = timezone.now()
    if connection.vendor == "postgresql":
        times = _step_times_in_sql(step_ids=list(by_id), period=period, now=now)
    else:
        times = _step_times_in_python(by_id=by_id, period=period, now=now)
    for key, t in times.items():
        f = figures[key]
        f.tasks, f.runs, f.time_spent = t.tasks, t.runs, t.time_spent
        f.waiting_median, f.waiting_p85 = t.waiting_median, t.waiting_p85
        f.working_median, f.working_p85 = t.working_median, t.working_p85
        f.sla_tracked, f.sla_missed = t.sla_tracked, t.sla_missed

    # Finished tasks per step and outcome (first attempts apart): loop-backs, yield, arrows.
    in_period = Q(created_at__gte=period.start, created_at__lt=period.end)
    finished = (
        Task.objects.filter(in_period, step_id__in=list(by_id), state=State.DONE)
        .exclude(finished_at=None)
        .values("step_id", "outcome")
        .annotate(n=Count("pk"), first=Count("pk", filter=Q(iteration=1)))
    )
    loops: dict[tuple[str, str], int] = defaultdict(int)
    edge_runs: dict = defaultdict(int)
    looping = Q(pk__in=[])
    for row in finished:
        step, n, first = by_id[row["step_id"]], row["n"], row["first"]
        f = figures[step.key]
        f.finished += n
        targets = route_to.get((step.pk, row["outcome"]), [])
        back_to = [t for t in targets if (step.pk, t) in back]
        for t in targets:
            target_key = by_id[t].key if t else None
            a = drawn_key.get(step.key)
            b = drawn_key.get(target_key) if target_key else "end"
            if a is not None and b is not None:
                edge_runs[(a, b)] += n
        f.first_attempts += first
        if back_to:
            f.loop_backs += n
            loops[(step.key, by_id[back_to[0]].key)] += n
            looping |= Q(step_id=step.pk, outcome=row["outcome"])
        else:
            f.first_pass += first

    finished_runs = Run.objects.filter(
        template__in=counted,
        finished_at__gte=period.start,
        finished_at__lt=period.end,
        status__in=[RunStatus.COMPLETED, RunStatus.FAILED],
    )
    completed = finished_runs.filter(status=RunStatus.COMPLETED)
    looped = Task.objects.filter(
        looping, in_period, run=OuterRef("pk"), state=State.DONE, finished_at__isnull=False
    )
    counts = finished_runs.aggregate(
        finished=Count("pk"),
        first_pass=Count("pk", filter=Q(status=RunStatus.COMPLETED) & ~Q(Exists(looped))),
    )
    lead_times = _lead_times(runs=completed)
    shown = [f for f in figures.values() if f.tasks or f.key in drawn_key]
    total_time = sum(f.time_spent for f in shown)
    bottleneck = max(shown, key=lambda f: f.time_spent, default=None) if total_time else None
    return WorkflowInsight(
        template=drawn,
        versions=versions,
        period=period,
        steps=shown,
        loops=[
            LoopBack(
                source=a,
                source_name=figures[a].name,
                target=b,
                target_name=figures[b].name,
                count=n,
                rate=n / figures[a].finished,
            )
            for (a, b), n in sorted(loops.items(), key=lambda item: -item[1])
        ],
        edge_runs=dict(edge_runs),
        lead_times=lead_times,
        runs_finished=counts["finished"],
        runs_first_pass=counts["first_pass"],
        bottleneck=bottleneck,
        bottleneck_share=bottleneck.time_spent / total_time if bottleneck else None,
        diagram_steps=sorted(drawn_steps, key=lambda s: (s.position, s.pk)),
        diagram_routes=[r for r in routes if r.template_id == drawn.pk],
    )


def humanize(seconds: float | None) -> str:
    """A duration in the two largest units: "2 d 4 h", "3 h 20 min", "45 s"; "—" for none."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def bottleneck_sentence(insight: WorkflowInsight) -> str:
    b = insight.bottleneck
    if b is None or insight.bottleneck_share is None:
        return "No step has finished work in this period yet, so there is no bottleneck to name."
    return (
        f"{b.name} is the bottleneck: its tasks took {insight.bottleneck_share:.0%} of the time "
        f"runs spent in steps (median {humanize(b.waiting_median)} waiting, "
        f"{humanize(b.working_median)} working)."
    )


def recent_period(*, days: int, now: datetime | None = None) -> Period:
    now = now or timezone.now()
    return Period(start=now - timedelta(days=days), end=now, label=f"last {days} days")
