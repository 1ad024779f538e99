"""A workflow template's flow, step by step, read from the transition log.

For every task of the template's steps created in the period, one query reads when it was
created, when it first entered `in_progress` (the transition log, django-fsm-log's StateLog)
and when it finished, with its outcome and iteration; a second reads the runs that finished in
the period. Everything else is computed here, in Python, from those rows: the same code, and
so the same figures, on SQLite and PostgreSQL. The period is bounded (at most a year, see
forms.PeriodForm), which bounds the rows: 100,000 tasks answer in well under the 300 ms the
bench asks for (bench/insight.py).

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
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db.models import Min, OuterRef, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone
from django_fsm_log.models import StateLog

from apps.people.models import Team
from apps.tasks.models import State, Task
from apps.workflows.diagram import loop_backs
from apps.workflows.models import Route, Run, RunStatus, Step, WorkflowTemplate

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
    waiting: list[float] = field(default_factory=list, repr=False)
    working: list[float] = field(default_factory=list, repr=False)
    loop_backs: int = 0
    first_attempts: int = 0
    first_pass: int = 0
    sla_tracked: int = 0
    sla_missed: int = 0
    time_spent: float = 0.0  # seconds, waiting + working, all tasks

    @property
    def waiting_median(self) -> float | None:
        return percentile(self.waiting, 50)

    @property
    def waiting_p85(self) -> float | None:
        return percentile(self.waiting, 85)

    @property
    def working_median(self) -> float | None:
        return percentile(self.working, 50)

    @property
    def working_p85(self) -> float | None:
        return percentile(self.working, 85)

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
    started = (
        StateLog.objects.filter(
            content_type=ContentType.objects.get_for_model(Task),
            object_id=OuterRef("pk"),
            state=State.IN_PROGRESS,
        )
        .values("object_id")
        .annotate(first=Min("timestamp"))
        .values("first")[:1]
    )
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
    runs_at: dict[str, set] = defaultdict(set)
    loops: dict[tuple[str, str], int] = defaultdict(int)
    edge_runs: dict = defaultdict(int)
    looped_runs: set = set()
    for row in task_rows(step_ids=list(by_id), period=period):
        step = by_id[row["step_id"]]
        f = figures[step.key]
        f.tasks += 1
        runs_at[step.key].add(row["run_id"])
        created, started, finished = row["created_at"], row["started_at"], row["finished_at"]
        done = row["state"] == State.DONE and finished is not None
        if started is not None:
            f.waiting.append((started - created).total_seconds())
            if done:
                f.working.append((finished - started).total_seconds())
                f.time_spent += (finished - created).total_seconds()
            else:
                f.time_spent += (now - created).total_seconds()
        elif done:
            f.waiting.append((finished - created).total_seconds())
            f.time_spent += (finished - created).total_seconds()
        if row["due_at"] is not None:
            f.sla_tracked += 1
            if (finished if done else now) > row["due_at"]:
                f.sla_missed += 1
        if not done:
            continue
        f.finished += 1
        targets = route_to.get((step.pk, row["outcome"]), [])
        back_to = [t for t in targets if (step.pk, t) in back]
        for t in targets:
            target_key = by_id[t].key if t else None
            a = drawn_key.get(step.key)
            b = drawn_key.get(target_key) if target_key else "end"
            if a is not None and b is not None:
                edge_runs[(a, b)] += 1
        if back_to:
            f.loop_backs += 1
            looped_runs.add(row["run_id"])
            loops[(step.key, by_id[back_to[0]].key)] += 1
        if row["iteration"] == 1:
            f.first_attempts += 1
            f.first_pass += 0 if back_to else 1
    for key, run_ids in runs_at.items():
        figures[key].runs = len(run_ids)

    finished_runs = list(
        Run.objects.filter(
            template__in=counted,
            finished_at__gte=period.start,
            finished_at__lt=period.end,
            status__in=[RunStatus.COMPLETED, RunStatus.FAILED],
        ).values_list("pk", "status", "started_at", "finished_at")
    )
    lead_times = [
        (end - begin).total_seconds()
        for _pk, status, begin, end in finished_runs
        if status == RunStatus.COMPLETED
    ]
    first_pass_runs = sum(
        1
        for pk, status, *_ in finished_runs
        if status == RunStatus.COMPLETED and pk not in looped_runs
    )
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
        runs_finished=len(finished_runs),
        runs_first_pass=first_pass_runs,
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
