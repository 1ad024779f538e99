"""Reads about workflows and runs, and who may see which."""

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Min, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django_fsm_log.models import StateLog

from apps.people.models import Team, User
from apps.people.selectors import led_team_ids
from apps.tasks.models import UNFINISHED_STATES, State, Task

from . import diagram
from .diagram import StepState
from .diagram import render as render_diagram
from .explain import Why, value_text
from .models import (
    DispatchKind,
    Route,
    RouteTaken,
    Run,
    RunEvent,
    RunStatus,
    Step,
    StepDispatch,
    StepKind,
    WorkflowTemplate,
)


def waiting_dispatches() -> QuerySet[StepDispatch]:
    """Automated steps whose action has not run yet: in a queue, or lost and due for a sweep."""
    return StepDispatch.objects.filter(
        kind=DispatchKind.AUTOMATED, finished_at__isnull=True, task__state=State.IN_PROGRESS
    )


def visible_runs(user: User) -> QuerySet[Run]:
    """Members see their teams' runs; staff see all; anonymous users see nothing."""
    if not user.is_authenticated:
        return Run.objects.none()
    if user.is_staff:
        return Run.objects.all()
    return Run.objects.filter(team__memberships__user=user)


# --- who edits which team's workflow templates ------------------------------------------------
# One answer for both admin sites, the import and the "Workflow admin" link: a superuser edits
# every team's templates; anyone else (staff included: staff is global, leading is not) edits
# the templates of the teams they lead, and nothing of any other team.


def editable_teams(user: User) -> QuerySet[Team]:
    """The teams whose workflow templates the user may list, edit, import into or move to."""
    if user.is_active and user.is_superuser:
        return Team.objects.all()
    return Team.objects.filter(pk__in=led_team_ids(user=user))


def may_edit_workflows(user: User) -> bool:
    """Whether the user edits any team's templates (the team admin admits them)."""
    return bool(user.is_active and (user.is_superuser or led_team_ids(user=user)))


def may_edit_team_workflows(user: User, *, team_id: int | None) -> bool:
    if not user.is_active or team_id is None:
        return False
    return user.is_superuser or team_id in led_team_ids(user=user)


def editable_templates(user: User) -> QuerySet[WorkflowTemplate]:
    """Every version of the templates of the teams the user may edit; the rest don't exist."""
    if user.is_active and user.is_superuser:
        return WorkflowTemplate.objects.all()
    return WorkflowTemplate.objects.filter(team_id__in=led_team_ids(user=user))


def startable_templates(*, team: Team) -> QuerySet[WorkflowTemplate]:
    return WorkflowTemplate.objects.filter(team=team, is_current=True, is_active=True).order_by(
        "name"
    )


def _open_tasks() -> Prefetch:
    return Prefetch(
        "tasks",
        queryset=Task.objects.filter(state__in=UNFINISHED_STATES)
        .select_related("step", "assignee")
        .order_by("pk"),
        to_attr="open_tasks",
    )


def team_runs(*, team: Team, status: str | None = None) -> QuerySet[Run]:
    """A team's runs, newest first, each with its open tasks (the step(s) it is at)."""
    runs = (
        Run.objects.filter(team=team)
        .select_related("template", "owner")
        .prefetch_related(_open_tasks())
        .annotate(task_count=Count("tasks"))
        .order_by("-started_at", "-pk")
    )
    if status:
        runs = runs.filter(status=status)
    return runs


def status_counts(*, team: Team) -> dict[str, int]:
    counts = Run.objects.filter(team=team).aggregate(
        **{s: Count("pk", filter=Q(status=s)) for s in RunStatus.values}
    )
    return counts


def run_tasks(run: Run) -> list[Task]:
    """Every task of the run in the order they were created (iterations included)."""
    return list(
        Task.objects.filter(run=run).select_related("step", "assignee", "reviewer").order_by("pk")
    )


def step_states(tasks: list[Task]) -> dict[int, StepState]:
    """Per step: 'current' if it has an open task, else 'done' with the latest outcome."""
    states: dict[int, StepState] = {}
    for task in tasks:  # in creation order: the latest task of a step wins
        if task.step_id is None or task.state == State.CANCELLED:
            continue
        status = "done" if task.state == State.DONE else "current"
        states[task.step_id] = StepState(
            status=status,
            outcome=task.outcome if status == "done" else "",
            iteration=task.iteration,
        )
    return states


# --- why a run went where it went ---------------------------------------------------------------

# The transitions that finish a task with its outcome: their log note is the doer's note.
FINISHING = ("complete", "approve", "request_changes", "reject")


@dataclass(frozen=True)
class OutputShown:
    label: str
    value: str
    is_url: bool = False


@dataclass(frozen=True)
class TaskStory:
    """One task of a run as the run page tells it: what it recorded and where it sent the run."""

    outputs: list[OutputShown]
    why: Why | None


def outputs_shown(task: Task, step: Step | None) -> list[OutputShown]:
    """The task's recorded outputs, labelled by the step's output fields (in their order; a
    value the step no longer declares is shown under its name)."""
    values = dict(task.outputs or {})
    shown = []
    for spec in (step.output_fields if step else None) or []:
        name = spec.get("name")
        if name in values:
            kind = spec.get("type", "")
            shown.append(
                OutputShown(
                    label=spec.get("label") or name,
                    value=value_text(values.pop(name), kind),
                    is_url=kind == "url",
                )
            )
    shown.extend(OutputShown(label=name, value=value_text(v)) for name, v in values.items())
    return shown


def finishing_notes(tasks: list[Task]) -> dict[int, StateLog]:
    """Per finished task, the log entry of the transition that finished it (who, and the note
    they gave): one query for the whole run."""
    done = [t.pk for t in tasks if t.state == State.DONE]
    if not done:
        return {}
    logs = (
        StateLog.objects.filter(
            content_type=ContentType.objects.get_for_model(Task),
            object_id__in=done,
            transition__in=FINISHING,
        )
        .select_related("by")
        .order_by("timestamp", "pk")
    )
    return {int(log.object_id): log for log in logs}  # the latest wins


def run_stories(
    *, run: Run, tasks: list[Task], steps: list[Step], routes: list[Route]
) -> dict[int, TaskStory]:
    """Per task of the run: its outputs and, once finished, the route(s) it took and why.

    Reads the engine's RouteTaken rows; a run recorded before them is told from the template's
    routes for the task's outcome. Whether a route goes back is the diagram's loop-back (the
    same arrow the page draws under the steps), never the outcome. Three queries, however many
    steps and iterations: the rows, the finishing log entries, and nothing per task."""
    by_id = {step.pk: step for step in steps}
    backs = diagram.loop_backs(steps, routes) if steps else set()
    taken: dict[int, list[RouteTaken]] = {}
    for row in RouteTaken.objects.filter(run=run).order_by("taken_at", "pk"):
        taken.setdefault(row.task_id, []).append(row)
    logs = finishing_notes(tasks)
    stories = {}
    for task in tasks:
        step = by_id.get(task.step_id)
        why = None
        if task.state == State.DONE and step is not None:
            rows = taken.get(task.pk)
            log = logs.get(task.pk)
            note = (log.description or "") if log else ""
            note_by = log.by.display_name if log and log.by_id else ""
            if rows:
                first = rows[0]
                targets = tuple(
                    (
                        by_id[r.to_step_id].name if r.to_step_id in by_id else None,
                        r.is_loop_back or (task.step_id, r.to_step_id) in backs,
                    )
                    for r in rows
                )
                why = Why(
                    step=step.name,
                    iteration=task.iteration,
                    outcome=first.outcome,
                    targets=targets,
                    condition=first.condition,
                    values=first.values or {},
                    failed_checks=tuple(first.failed_checks or ()),
                    note=first.note or note,
                    note_by=note_by,
                )
            else:
                targets = tuple(
                    (
                        by_id[r.to_step_id].name if r.to_step_id in by_id else None,
                        (task.step_id, r.to_step_id) in backs,
                    )
                    for r in routes
                    if r.from_step_id == task.step_id and r.outcome == task.outcome
                )
                why = Why(
                    step=step.name,
                    iteration=task.iteration,
                    outcome=task.outcome,
                    targets=targets,
                    note=note,
                    note_by=note_by,
                )
        stories[task.pk] = TaskStory(outputs=outputs_shown(task, step), why=why)
    return stories


def run_events(run: Run) -> list[RunEvent]:
    """What people did to the run itself (retries), oldest first, with who and which step."""
    return list(RunEvent.objects.filter(run=run).select_related("by", "step").order_by("at", "pk"))


# --- automated steps nobody finished ------------------------------------------------------------


class StrandedSteps(NamedTuple):
    count: int
    oldest_started_at: datetime | None
    oldest_run_id: int | None


def stranded_automated_steps(*, started_before: datetime) -> StrandedSteps:
    """Automated steps of running runs still in progress although their action started before
    `started_before`: the worker's time limit would have ended the action by then, so its
    message was lost (the broker was down when it was enqueued, or a worker died holding it)
    and the run waits for nothing. Started = the task's latest move into In progress (its
    transition log), so a step handed back to automation counts from then."""
    started = (
        StateLog.objects.filter(
            content_type=ContentType.objects.get_for_model(Task),
            object_id=OuterRef("pk"),
            state=State.IN_PROGRESS,
        )
        .order_by("-timestamp")
        .values("timestamp")[:1]
    )
    stranded = (
        Task.objects.filter(
            state=State.IN_PROGRESS, step__kind=StepKind.AUTOMATED, run__status=RunStatus.RUNNING
        )
        .annotate(started_at=Coalesce(Subquery(started), "created_at"))
        .filter(started_at__lt=started_before)
    )
    summary = stranded.aggregate(count=Count("pk"), oldest=Min("started_at"))
    if not summary["count"]:
        return StrandedSteps(count=0, oldest_started_at=None, oldest_run_id=None)
    oldest_run_id = stranded.order_by("started_at", "pk").values_list("run_id", flat=True).first()
    return StrandedSteps(
        count=summary["count"], oldest_started_at=summary["oldest"], oldest_run_id=oldest_run_id
    )


def reported_task(*, pk: int) -> Task | None:
    """The task an outside system reports on, whoever asks: report_external_result decides who
    may (and answers another team's caller as if the task did not exist)."""
    return Task.objects.select_related("team", "step", "run").filter(pk=pk).first()


# --- sub-workflows -----------------------------------------------------------------------------


class ChildRun(NamedTuple):
    """A sub-workflow run as its parent's page shows it: on which step, and its progress."""

    step_name: str
    iteration: int
    run: Run
    diagram: object


def child_runs(run: Run, *, tasks: list[Task]) -> list[ChildRun]:
    """The runs the run's sub-workflow steps started, oldest first, each with its diagram
    (five queries whatever their number: the runs, their steps and skills, routes and tasks;
    none for a run whose `tasks`, run_tasks', include no sub-workflow step's)."""
    if not any(task.step_id and task.step.kind == StepKind.SUBWORKFLOW for task in tasks):
        return []
    children = list(
        Run.objects.filter(parent_task__run=run)
        .select_related("template", "parent_task__step")
        .prefetch_related("template__steps__required_skill", "template__routes")
        .order_by("pk")
    )
    if not children:
        return []
    tasks_by_run: dict[int, list[Task]] = {}
    for task in (
        Task.objects.filter(run__in=children)
        .only("pk", "run_id", "step_id", "state", "outcome", "iteration")
        .order_by("pk")
    ):
        tasks_by_run.setdefault(task.run_id, []).append(task)
    return [
        ChildRun(
            step_name=child.parent_task.step.name,
            iteration=child.parent_task.iteration,
            run=child,
            diagram=render_diagram(
                child.template,
                steps=list(child.template.steps.all()),
                routes=list(child.template.routes.all()),
                states=step_states(tasks_by_run.get(child.pk, [])),
                finished=child.status == RunStatus.COMPLETED,
            ),
        )
        for child in children
    ]


def parent_run_of(run: Run) -> tuple[Run, Task] | None:
    """The run (and its waiting step's task) that started this one as a sub-workflow."""
    if run.parent_task_id is None:
        return None
    task = Task.objects.select_related("run", "step").filter(pk=run.parent_task_id).first()
    return (task.run, task) if task is not None and task.run_id else None


def run_inputs(run: Run) -> tuple[list[tuple[str, str]], dict]:
    """The run's inputs as the start form asked for them: (label, value) per input the template
    declares, in its order, and the free-form rest ("Other inputs") as a dict."""
    specs = list(run.template.input_fields or [])
    inputs = dict(run.inputs or {})
    declared = []
    for spec in specs:
        name = spec.get("name")
        if name in inputs:
            label = spec.get("label") or name
            declared.append((label, value_text(inputs.pop(name), spec.get("type", ""))))
    return declared, inputs
