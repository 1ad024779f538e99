"""The run engine and template versioning: every change to a workflow or a run happens here.

A run walks its template version: reaching a step creates that step's task (checklist, skill,
SLA copied from the step; auto-assigned if the step says so; an automated step's action is
queued in Celery). When a task reaches `done`, `advance_run` reads its outcome and follows the
route: to the next step(s), back to an earlier step (a new task with iteration + 1, the old one
stays in history), into a join (created once, when every incoming branch is done) or to END.

Concurrency: `advance_run` locks the run row before reading anything about the run, so two
branches finishing at the same moment are decided one after the other; the unique constraint
on (run, step, iteration) makes the database refuse a second task for the same arrival even if
a caller forgot the lock.
"""

from datetime import timedelta
from http import HTTPStatus

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.assignment.services import single as assignment
from apps.core.refusals import Refused
from apps.notifications.models import Kind
from apps.notifications.services.outbox import notify
from apps.people import selectors as people
from apps.people.models import User
from apps.people.system import automation_user
from apps.tasks import services as task_services
from apps.tasks.models import UNFINISHED_STATES, State, Task

from .models import (
    FAILURE_OUTCOMES,
    AssignmentPolicy,
    Route,
    Run,
    RunStatus,
    Step,
    StepKind,
    WorkflowTemplate,
)
from .validation import graph_of, validate


class WorkflowError(Refused):
    """A refused workflow change; `problems` lists every reason as a sentence.

    Its status: 403 when the person may not make the change, 409 when the run or version can't
    take it now, 422 when the workflow itself has problems (its graph, an imported document).
    """

    def __init__(self, problems: list[str] | str, *, status: int | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(" ".join(self.problems), status=status)


# --- starting and cancelling runs --------------------------------------------------------------


@transaction.atomic
def start_run(
    *,
    template: WorkflowTemplate,
    title: str,
    owner: User,
    by: User | None,
    inputs: dict | None = None,
) -> Run:
    """Start a run on the template's current version and create the start step's task."""
    template = WorkflowTemplate.objects.select_for_update().get(pk=template.pk)
    if by is not None and people.role_in(team_id=template.team_id, user=by) is None:
        raise WorkflowError(
            _("Only members of %(team)s can start this workflow.") % {"team": template.team.name},
            status=HTTPStatus.FORBIDDEN,
        )
    if not template.is_current:
        raise WorkflowError(
            _("Version %(v)d of '%(name)s' was replaced by a newer one: start the current one.")
            % {"v": template.version, "name": template.name}
        )
    if not template.is_active:
        raise WorkflowError(
            _("'%(name)s' is inactive: a lead must activate it first.") % {"name": template.name}
        )
    problems = validate(graph_of(template))
    if problems:
        raise WorkflowError(problems, status=HTTPStatus.UNPROCESSABLE_ENTITY)
    title = title.strip()
    if not title:
        raise WorkflowError(_("Give the run a title."), status=HTTPStatus.UNPROCESSABLE_ENTITY)
    run = Run.objects.create(
        template=template,
        team_id=template.team_id,
        title=title[:200],
        owner=owner,
        inputs=inputs or {},
    )
    _enter(run=run, step=template.steps.get(is_start=True), by=by)
    return run


def may_cancel_run(*, run: Run, user: User) -> bool:
    return run.owner_id == user.pk or people.is_lead(team_id=run.team_id, user=user)


@transaction.atomic
def cancel_run(*, run: Run, by: User, note: str = "") -> Run:
    """Stop a run: its open tasks are cancelled (kept in history), nothing routes any more."""
    run = Run.objects.select_for_update().get(pk=run.pk)
    if not may_cancel_run(run=run, user=by):
        raise WorkflowError(
            _("Only the run's owner or a team lead can cancel it."), status=HTTPStatus.FORBIDDEN
        )
    if run.status != RunStatus.RUNNING:
        raise WorkflowError(
            _("This run is already %(status)s.") % {"status": run.get_status_display().lower()}
        )
    _finish(run, RunStatus.CANCELLED, reason=note.strip())
    _cancel_open_tasks(run, note=_("Run cancelled by %(name)s.") % {"name": by.display_name})
    return run


# --- routing -----------------------------------------------------------------------------------


def on_task_transitioned(*, task: Task, name: str, by: User | None, **kwargs) -> None:
    """apps.tasks.signals.task_transitioned: a run's task reaching `done` moves the run on; one
    cancelled by hand that leaves the run with nothing open fails it (else it would hang)."""
    if task.run_id is None:
        return
    if task.state == State.DONE:
        advance_run(task=task)
    elif task.state == State.CANCELLED and by is not None:
        _task_cancelled(task=task, by=by)


def _task_cancelled(*, task: Task, by: User) -> None:
    run = Run.objects.select_for_update().get(pk=task.run_id)
    if run.status == RunStatus.RUNNING and not _open_tasks(run).exists():
        _fail(
            run,
            task,
            _("%(name)s cancelled the task of step '%(step)s', so nothing was left to do.")
            % {"name": by.display_name, "step": task.step.name},
        )


@transaction.atomic
def advance_run(*, task: Task) -> Run:
    """Follow the route for the finished task's outcome (see the module docstring)."""
    # Lock the run only: FOR UPDATE over the join also locked the template row, which every run
    # of the template shares and start_run locks first: two runs advancing at once deadlocked.
    run = Run.objects.select_for_update(of=("self",)).select_related("template").get(pk=task.run_id)
    if run.status != RunStatus.RUNNING:
        return run
    step = task.step
    routes = list(
        Route.objects.filter(from_step=step, outcome=task.outcome).select_related("to_step")
    )
    if task.outcome in FAILURE_OUTCOMES:
        _alert(
            run,
            task,
            reason=_("%(step)s finished %(outcome)s; the run loops back.")
            % {"step": step.name, "outcome": task.get_outcome_display().lower()},
        )
    if not routes:
        _fail(
            run,
            task,
            _("Step '%(step)s' has no route for outcome '%(outcome)s'.")
            % {"step": step.key, "outcome": task.outcome},
        )
        return run
    for route in routes:
        if run.status != RunStatus.RUNNING:
            break
        if route.to_step is None:
            if not _open_tasks(run).exists():
                _finish(run, RunStatus.COMPLETED)
        elif route.to_step.is_join:
            if _join_ready(run, route.to_step):
                _enter(run=run, step=route.to_step, by=None)
        else:
            _enter(run=run, step=route.to_step, by=None)
    return run


def _open_tasks(run: Run):
    return Task.objects.filter(run=run, state__in=UNFINISHED_STATES)


def _join_ready(run: Run, join: Step) -> bool:
    """Every step routing into the join has a done task that routed here since the join last ran.

    Called with the run row locked, so the last of concurrent branches sees the others' commits.
    """
    last = Task.objects.filter(run=run, step=join).order_by("-pk").values_list("pk", flat=True)
    since = last.first() or 0
    incoming = Route.objects.filter(to_step=join).values_list("from_step_id", "outcome")
    needed: dict[int, set[str]] = {}
    for from_step_id, outcome in incoming:
        needed.setdefault(from_step_id, set()).add(outcome)
    arrived = set(
        Task.objects.filter(
            run=run, step_id__in=needed, state=State.DONE, pk__gt=since
        ).values_list("step_id", "outcome")
    )
    return all(any((sid, o) in arrived for o in outs) for sid, outs in needed.items())


def _enter(*, run: Run, step: Step, by: User | None) -> Task | None:
    """Create the task for reaching `step` (or fail the run if the step hit max_iterations)."""
    tasks = Task.objects.filter(run=run, step=step)
    if not step.is_join and tasks.filter(state__in=UNFINISHED_STATES).exists():
        return None  # first arrival already opened this step; a second arrival joins it
    iteration = tasks.count() + 1
    if iteration > step.max_iterations:
        _fail(
            run,
            None,
            _(
                "Step '%(step)s' would run for the %(n)d. time but allows at most %(max)d "
                "iterations: the run stopped instead of looping again."
            )
            % {"step": step.name, "n": iteration, "max": step.max_iterations},
        )
        return None
    lines = [step.instructions]
    if step.inputs:
        lines.append(_("Inputs: %(text)s") % {"text": step.inputs})
    if step.outputs:
        lines.append(_("Outputs: %(text)s") % {"text": step.outputs})
    automated = step.kind == StepKind.AUTOMATED
    task = task_services.create_task(
        team=run.team,
        title=f"{step.name}: {run.title}"[:200],
        by=by,
        description="\n\n".join(line for line in lines if line),
        required_skill=step.required_skill,
        min_level=step.min_level,
        due_at=timezone.now() + timedelta(hours=step.sla_hours) if step.sla_hours else None,
        checklist=step.checklist_items,
        run=run,
        step=step,
        iteration=iteration,
    )
    if automated:
        from .tasks import run_automated_step

        # Worked on by Relay automation from the moment it exists: assigned and started.
        task = task_services.hand_to_automation(task=task)
        # robust: a broker outage must not turn the committed change into an error page.
        # (Until automated steps have a sweeper, a step whose enqueue failed stays in progress.)
        transaction.on_commit(lambda: run_automated_step.delay(task.pk), robust=True)
    elif step.assignment_policy == AssignmentPolicy.AUTO:
        # Four-eyes across the run (Step.not_done_by) is part of who is eligible: the engine
        # asks the same candidates every other way of assigning does.
        task = assignment.assign(task=task, by=None) or task
    return task


def _fail(run: Run, task: Task | None, reason: str) -> None:
    _finish(run, RunStatus.FAILED, reason=reason)
    _cancel_open_tasks(run, note=reason)
    _alert(run, task, reason=reason, failed=True)


def _finish(run: Run, status: str, reason: str = "") -> None:
    run.status = status
    run.failure_reason = reason
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "failure_reason", "finished_at"])


def _cancel_open_tasks(run: Run, note: str) -> None:
    for open_task in _open_tasks(run):
        task_services.cancel(task=open_task, by=None, note=note)


def _alert(run: Run, task: Task | None, *, reason: str, failed: bool = False) -> None:
    """The run's owner and the team leads hear about a failure (a loop-back or a failed run)."""
    leads = people.leads_of(team_id=run.team_id)
    event = "run_failed" if failed else f"task:{task.pk}:{task.outcome}"
    notify(
        kind=Kind.RUN_FAILED,
        recipients=[run.owner, *leads],
        key=f"run_failed:run:{run.pk}:{event}",
        task=task,
        run=run,
        payload={
            "run": run.title,
            "run_id": run.pk,
            "note": reason,
            "url": reverse("workflows:run_detail", args=[run.pk]),
            "step": task.step.name if task and task.step_id else "",
            "outcome": task.outcome if task else "",
            "reason": reason,
            "run_failed": failed,
        },
    )


# --- automated steps ---------------------------------------------------------------------------


@transaction.atomic
def record_automated_result(*, task: Task, outcome: str, error: str = "") -> Task | None:
    """Finish an automated step's task with its action's result; a repeat delivery is a no-op."""
    locked = Task.objects.select_for_update().get(pk=task.pk)
    if locked.state != State.IN_PROGRESS:
        return None
    if error:
        Task.objects.filter(pk=locked.pk).update(automation_error=error[:5000])
    return task_services.complete(
        task=locked, by=automation_user(), outcome=outcome, note=error[:500] if error else ""
    )


# --- template versions -------------------------------------------------------------------------


def is_frozen(template: WorkflowTemplate) -> bool:
    """A version with runs, or a replaced one, never changes: edit a new version instead."""
    return not template.is_current or template.runs.exists()


@transaction.atomic
def new_version(*, template: WorkflowTemplate) -> WorkflowTemplate:
    """Copy the current version's steps and routes into version N+1, which becomes current."""
    template = WorkflowTemplate.objects.select_for_update().get(pk=template.pk)
    if not template.is_current:
        raise WorkflowError(_("Only the current version can be copied to a new one."))
    WorkflowTemplate.objects.filter(pk=template.pk).update(is_current=False)
    copy = WorkflowTemplate.objects.create(
        team_id=template.team_id,
        name=template.name,
        slug=template.slug,
        description=template.description,
        version=template.version + 1,
        is_active=template.is_active,
    )
    step_map: dict[int, Step] = {}
    for step in template.steps.all():
        old_pk = step.pk
        step.pk = None
        step.template = copy
        step.save()
        step_map[old_pk] = step
    Route.objects.bulk_create(
        Route(
            template=copy,
            from_step=step_map[r.from_step_id],
            outcome=r.outcome,
            to_step=step_map.get(r.to_step_id),
        )
        for r in template.routes.all()
    )
    return copy


def editable_version(*, template: WorkflowTemplate) -> WorkflowTemplate:
    """The version to write changes into: this one, or a fresh copy if runs hold this one."""
    return new_version(template=template) if is_frozen(template) else template
