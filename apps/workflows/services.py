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

import hashlib
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from http import HTTPStatus
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, TextField, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.assignment.services import single as assignment
from apps.core.refusals import Refused
from apps.notifications.models import Kind
from apps.notifications.services.outbox import notify
from apps.people import selectors as people
from apps.people.models import User
from apps.people.system import automation_user
from apps.tasks import services as task_services
from apps.tasks.models import UNFINISHED_STATES, Outcome, State, Task

from . import diagram, events, fields, routing, selectors, subflows
from .conditions import ConditionError
from .explain import WHY_HEADING, Why
from .models import (
    FAILURE_OUTCOMES,
    PASS_FAIL_OUTCOMES,
    AssignmentPolicy,
    DispatchKind,
    Route,
    RouteTaken,
    Run,
    RunEvent,
    RunEventKind,
    RunStatus,
    Step,
    StepDispatch,
    StepKind,
    WorkflowTemplate,
)
from .validation import graph_of, validate

logger = logging.getLogger(__name__)


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
    parent_task: Task | None = None,
) -> Run:
    """Start a run on the template's current version and create the start step's task.

    `parent_task`: a sub-workflow step's task that waits for this run (subflows.start_child).
    """
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
        inputs=clean_inputs(template=template, inputs=inputs),
        parent_task=parent_task,
    )
    events.started(run=run, by=by)
    _enter(run=run, step=template.steps.get(is_start=True), by=by)
    return run


def input_specs(template: WorkflowTemplate) -> list[dict]:
    """The template's declared run inputs, as fields.clean_spec normalises them."""
    return fields.clean_spec(list(template.input_fields or []))[0]


def clean_inputs(*, template: WorkflowTemplate, inputs: dict | None) -> dict:
    """A run's inputs: the template's declared ones typed and checked, their defaults filled
    (WorkflowError 422 with every problem otherwise). Names the template does not declare are
    kept as given: the older free-form inputs an action may read (run_staging_tests's
    metrics/thresholds). Conditions can't name them: validation refuses undeclared inputs."""
    inputs = dict(inputs or {})
    specs = input_specs(template)
    declared = {spec["name"] for spec in specs}
    values, problems = fields.clean_values(
        specs, {name: value for name, value in inputs.items() if name in declared}
    )
    if problems:
        raise WorkflowError(problems, status=HTTPStatus.UNPROCESSABLE_ENTITY)
    extra = {name: value for name, value in inputs.items() if name not in declared}
    return {**extra, **values}


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


def may_retry_run(*, run: Run, user: User) -> bool:
    return people.is_lead(team_id=run.team_id, user=user)


@transaction.atomic
def retry_run(*, run: Run, by: User, note: str = "") -> Task:
    """A lead sends a failed run back to work from the step it failed at: the run is running
    again and that step gets a new task (iteration + 1, within its max_iterations), whose
    description says why it is back; the run's history keeps who retried and the failure.

    Only the failed step is retried: branches a parallel run had open when it failed stay
    cancelled (their tasks are in history)."""
    run = Run.objects.select_for_update(of=("self",)).select_related("failed_step").get(pk=run.pk)
    if not may_retry_run(run=run, user=by):
        raise WorkflowError(
            _("Only a team lead can retry a failed run."), status=HTTPStatus.FORBIDDEN
        )
    if run.status != RunStatus.FAILED:
        raise WorkflowError(
            _("Only a failed run can be retried; this one is %(status)s.")
            % {"status": run.get_status_display().lower()},
            status=HTTPStatus.CONFLICT,
        )
    step = run.failed_step
    if step is None:
        raise WorkflowError(
            _(
                "Relay did not record the step this run failed at, so it can't be retried: "
                "start a new run instead."
            ),
            status=HTTPStatus.CONFLICT,
        )
    iteration = Task.objects.filter(run=run, step=step).count() + 1
    if iteration > step.max_iterations:
        raise WorkflowError(
            ngettext(
                "Step '%(step)s' already ran %(n)d time, the most it allows: a retry would run "
                "it once more. Start a new run instead.",
                "Step '%(step)s' already ran %(n)d times, the most it allows: a retry would run "
                "it once more. Start a new run instead.",
                iteration - 1,
            )
            % {"step": step.name, "n": iteration - 1},
            status=HTTPStatus.CONFLICT,
        )
    reason, note = run.failure_reason, note.strip()
    RunEvent.objects.create(
        run=run, kind=RunEventKind.RETRIED, by=by, step=step, note=note, failure_reason=reason
    )
    run.status, run.failure_reason = RunStatus.RUNNING, ""
    run.finished_at, run.failed_step = None, None
    run.save(update_fields=["status", "failure_reason", "finished_at", "failed_step"])
    lines = [
        WHY_HEADING,
        _("%(name)s retried the run from this step after it failed: %(reason)s")
        % {"name": by.display_name, "reason": reason or _("no reason was recorded.")},
    ]
    if note:
        lines.append(_("Note from %(name)s: “%(note)s”") % {"name": by.display_name, "note": note})
    task = _enter(run=run, step=step, by=by, why="\n".join(lines))
    if task is None:  # only a step with an open task returns nothing, and a failed run has none
        raise WorkflowError(
            _("Step '%(step)s' still has an open task.") % {"step": step.name},
            status=HTTPStatus.CONFLICT,
        )
    return task


def stop_run(*, run: Run, note: str) -> bool:
    """Cancel a run for Relay (its parent's waiting task was cancelled): no permission to check,
    and a run no longer running is left as it is."""
    run = Run.objects.select_for_update().get(pk=run.pk)
    if run.status != RunStatus.RUNNING:
        return False
    _finish(run, RunStatus.CANCELLED, reason=note)
    _cancel_open_tasks(run, note=note)
    return True


# --- finishing a step with its outputs ---------------------------------------------------------


def output_specs(step: Step | None) -> list[dict]:
    """The step's declared outputs, as fields.clean_spec normalises them."""
    if step is None:
        return []
    return fields.clean_spec(list(step.output_fields or []))[0]


@transaction.atomic
def finish_step(
    *,
    task: Task,
    by: User | None,
    outcome: str | None = None,
    outputs: dict | None = None,
    note: str = "",
    expected_state: str | None = None,
) -> Task:
    """Finish a task with its step's outputs: the path every finishing page, drawer and API
    call takes. The outputs are cleaned against the step's output fields (a missing required
    or mistyped value is refused with every reason, 422, and nothing changes; the tasks layer
    decides it, so a board drag meets the same rule), stored on the task, and the task is
    completed with `outcome` — or submitted for review where the step is reviewed (the
    reviewer's decision is then the outcome)."""
    common = {"task": task, "by": by, "note": note, "expected_state": expected_state}
    outputs = {} if outputs is None else outputs
    if task.requires_review and not task.is_review_step:
        return task_services.submit(**common, outputs=outputs)
    allowed = task_services.allowed_outcomes(task)
    if outcome is None and len(allowed) == 1:
        outcome = allowed[0]
    return task_services.complete(**common, outcome=outcome or "", outputs=outputs)


# --- routing -----------------------------------------------------------------------------------


def on_task_transitioned(
    *, task: Task, name: str, by: User | None, note: str = "", **kwargs
) -> None:
    """apps.tasks.signals.task_transitioned: a run's task reaching `done` moves the run on; one
    cancelled by hand that leaves the run with nothing open fails it (else it would hang)."""
    if task.run_id is None:
        return
    if task.state == State.DONE:
        if task.is_external_step:
            _close_settled_by_hand(task=task, by=by, note=note)
        advance_run(task=task, note=note)
    elif task.state == State.CANCELLED:
        if task.step.kind == StepKind.SUBWORKFLOW:
            subflows.cancel_children(
                task=task,
                note=_("Its parent's step '%(step)s' was cancelled.") % {"step": task.step.name},
            )
        if by is not None:
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
def advance_run(*, task: Task, note: str = "") -> Run:
    """Follow the route(s) for the finished task's outcome (see the module docstring).

    Among the (step, outcome)'s routes, routing.choose picks on the run's data: the first
    condition that holds, in position order, else the default route(s). Each followed route
    is written down (RouteTaken: the condition, the values it read, the checks that failed,
    whether it loops back, the doer's note). A route back to an earlier step, or a failure
    outcome, alerts the run's owner and the leads; a condition that can't be evaluated fails
    the run with its sentence."""
    # Lock the run only: FOR UPDATE over the join also locked the template row, which every run
    # of the template shares and start_run locks first: two runs advancing at once deadlocked.
    run = Run.objects.select_for_update(of=("self",)).select_related("template").get(pk=task.run_id)
    if run.status != RunStatus.RUNNING:
        return run
    step = task.step
    routes = list(
        Route.objects.filter(from_step=step, outcome=task.outcome).select_related("to_step")
    )
    if not routes:
        _fail(
            run,
            task,
            _("Step '%(step)s' has no route for outcome '%(outcome)s'.")
            % {"step": step.key, "outcome": task.outcome},
        )
        return run
    try:
        # The run's data is read only when a route asks for it: most routes have no condition.
        conditional = any(route.condition.strip() for route in routes)
        context = routing.context_for(run, step=step) if conditional else {}
        choice = routing.choose(routes, outcome=task.outcome, context=context)
    except ConditionError as error:
        _fail(
            run,
            task,
            _("Step '%(step)s' finished %(outcome)s but could not be routed: %(reason)s")
            % {"step": step.name, "outcome": task.outcome, "reason": error.message},
        )
        return run
    backs = _loop_backs(run, choice.routes)
    RouteTaken.objects.bulk_create(
        RouteTaken(
            run=run,
            task=task,
            route=route,
            outcome=task.outcome,
            to_step=route.to_step,
            condition=choice.condition,
            values=choice.values,
            failed_checks=choice.failed_checks,
            is_loop_back=route.pk in backs,
            note=note.strip(),
        )
        for route in choice.routes
    )
    why = _why(task=task, choice=choice, backs=backs, note=note)
    if why is not None:
        if step.kind == StepKind.EXTERNAL:
            why = replace(why, report=_external_report_line(task))
        _alert(run, task, reason=why.reason(), why=why)
    entered: list[Task] = []
    for route in choice.routes:
        if run.status != RunStatus.RUNNING:
            break
        came_back = why.came_back_block() if why and why.is_back_to(route.to_step) else ""
        if route.to_step is None:
            if not _open_tasks(run).exists():
                _finish(run, RunStatus.COMPLETED)
        elif route.to_step.is_join:
            if _join_ready(run, route.to_step):
                entered.append(_enter(run=run, step=route.to_step, by=None, why=came_back))
        else:
            entered.append(_enter(run=run, step=route.to_step, by=None, why=came_back))
    entered = [t for t in entered if t is not None]
    back = [t for t in entered if why is not None and why.is_back_to(t.step)]
    if back and run.status == RunStatus.RUNNING:
        events.looped_back(run=run, task=task, reason=why.reason(), entered=back)
    return run


def _loop_backs(run: Run, routes: list[Route]) -> set[int]:
    """The ids of the routes (of those followed) that go back to a step at or before the one
    they leave, as the diagram draws them (diagram.loop_backs)."""
    if not any(route.to_step_id for route in routes):
        return set()
    template = run.template
    pairs = diagram.loop_backs(list(template.steps.all()), list(template.routes.all()))
    return {route.pk for route in routes if (route.from_step_id, route.to_step_id) in pairs}


def _why(*, task: Task, choice: routing.Choice, backs: set[int], note: str) -> Why | None:
    """What finishing the task did to the run, when its owner and the leads must hear of it: a
    failure outcome (whichever way its route goes: support's "L1 failed" goes on to L2) or a
    route back (a check that did not hold). None otherwise."""
    if task.outcome not in FAILURE_OUTCOMES and not backs:
        return None
    log = selectors.finishing_notes([task]).get(task.pk)
    return Why(
        step=task.step.name,
        iteration=task.iteration,
        outcome=task.outcome,
        targets=tuple(
            (route.to_step.name if route.to_step else None, route.pk in backs)
            for route in choice.routes
        ),
        back_ids=tuple(route.to_step_id for route in choice.routes if route.pk in backs),
        condition=choice.condition,
        values=dict(choice.values),
        failed_checks=tuple(choice.failed_checks),
        note=note.strip() or ((log.description or "") if log else ""),
        note_by=log.by.display_name if log and log.by_id else "",
    )


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


def _enter(*, run: Run, step: Step, by: User | None, why: str = "") -> Task | None:
    """Create the task for reaching `step` (or fail the run if the step hit max_iterations).

    `why`: the run came back here (a loop-back, a retry): the new task's description starts
    with it, so whoever takes it knows what failed last time."""
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
            step=step,
        )
        return None
    lines = [why, step.instructions]
    if step.inputs:
        lines.append(_("Inputs: %(text)s") % {"text": step.inputs})
    if step.outputs:
        lines.append(_("Outputs: %(text)s") % {"text": step.outputs})
    automated = step.kind == StepKind.AUTOMATED
    external = step.kind == StepKind.EXTERNAL
    task = task_services.create_task(
        team=run.team,
        title=f"{step.name}: {run.title}"[:200],
        by=by,
        description="\n\n".join(line for line in lines if line),
        required_skill=step.required_skill,
        min_level=step.min_level,
        due_at=timezone.now() + timedelta(hours=step.sla_hours) if step.sla_hours else None,
        checklist=step.checklist_entries,
        run=run,
        step=step,
        iteration=iteration,
    )
    if automated:
        # Worked on by Relay automation from the moment it exists: assigned and started.
        task = task_services.hand_to_automation(task=task)
        dispatch_automated(task=task)
    elif external:
        # Nobody's work: held by Relay automation (no capacity counter) until the system reports.
        task = task_services.hand_to_automation(task=task)
        wait_for_external(task=task)
    elif step.kind == StepKind.SUBWORKFLOW:
        # Nobody's work either: held by Relay automation until the child run ends.
        task = task_services.hand_to_automation(task=task)
        try:
            subflows.start_child(task=task)
        except WorkflowError as refusal:
            _fail(
                run,
                task,
                _("The sub-workflow of step '%(step)s' could not start: %(why)s")
                % {"step": step.name, "why": refusal},
            )
            return None
    elif step.assignment_policy == AssignmentPolicy.AUTO:
        # Four-eyes across the run (Step.not_done_by) is part of who is eligible: the engine
        # asks the same candidates every other way of assigning does.
        task = assignment.assign(task=task, by=None) or task
    return task


def _fail(run: Run, task: Task | None, reason: str, *, step: Step | None = None) -> None:
    """Fail the run at `step` (else the task's step): where a lead may retry it from."""
    run.failed_step = step or (task.step if task is not None and task.step_id else None)
    _finish(run, RunStatus.FAILED, reason=reason)
    _cancel_open_tasks(run, note=reason)
    _alert(run, task, reason=reason, failed=True)


def _finish(run: Run, status: str, reason: str = "") -> None:
    run.status = status
    run.failure_reason = reason
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "failure_reason", "finished_at", "failed_step"])
    events.finished(run=run)
    if run.parent_task_id is not None:
        subflows.child_finished(run=run)
    if status == RunStatus.COMPLETED:
        notify(
            kind=Kind.RUN_COMPLETED,
            recipients=[run.owner],
            key=f"run_completed:run:{run.pk}",
            run=run,
            payload={
                "run": run.title,
                "title": run.title,
                "by": "Relay",
                "url": reverse("workflows:run_detail", args=[run.pk]),
            },
        )


def _cancel_open_tasks(run: Run, note: str) -> None:
    for open_task in _open_tasks(run):
        task_services.cancel(task=open_task, by=None, note=note)


def _alert(
    run: Run, task: Task | None, *, reason: str, failed: bool = False, why: Why | None = None
) -> None:
    """The run's owner and the team leads hear about a failure: a failed run, or a step that
    failed or sent the run back (`why`). `went_back` tells the inbox and the e-mail whether
    the run went back or on (support's "L1 failed" goes on to L2)."""
    leads = people.leads_of(team_id=run.team_id)
    event = "run_failed" if failed else f"task:{task.pk}:{task.outcome}"
    payload = {
        "run": run.title,
        "run_id": run.pk,
        "note": reason,
        "url": reverse("workflows:run_detail", args=[run.pk]),
        "step": task.step.name if task and task.step_id else "",
        "outcome": task.outcome if task else "",
        "reason": reason,
        "run_failed": failed,
    }
    if why is not None:
        payload.update(
            went_back=why.goes_back,
            failed_checks=why.checks,
            doer_note=why.note,
            to=[name or "END" for name, _back in why.targets],
        )
    notify(
        kind=Kind.RUN_FAILED,
        recipients=[run.owner, *leads],
        key=f"run_failed:run:{run.pk}:{event}",
        task=task,
        run=run,
        payload=payload,
    )


# --- automated steps ---------------------------------------------------------------------------
# Each automated step's task has a StepDispatch row, written with the task: the Celery message
# is only a wake-up call. A worker claims the row before running the action (claim_dispatch),
# records the result and closes the row in one transaction (record_automated_result), and the
# sweeper (sweep_dispatches) enqueues again whatever the broker never took or a worker lost.
# Run at least once, never twice with effect: see apps.workflows.actions for the key.

LOST_WORKER = "the worker running it stopped before it recorded a result"


def dispatch_automated(*, task: Task) -> StepDispatch:
    """Record that the task's action must run and ask a worker once the transaction commits."""
    dispatch = StepDispatch.objects.create(task=task, key=f"automated:task:{task.pk}")
    transaction.on_commit(partial(enqueue_step, task_id=task.pk), robust=True)
    return dispatch


def enqueue_step(*, task_id: int) -> bool:
    """Ask a worker to run the task's automated step. A broker that is down is logged, never
    raised: the change that reached the step is committed, and the sweeper enqueues it again."""
    from .tasks import run_automated_step  # not at the top: the tasks module imports services

    try:
        run_automated_step.apply_async(args=[task_id], retry=False)
    except Exception as error:  # kombu raises several unrelated types for "broker down"
        logger.warning(
            "Could not enqueue automated step %s (%s); the sweeper will.", task_id, error
        )
        return False
    return True


def claim_dispatch(*, task: Task, token: str) -> StepDispatch | None:
    """Take the task's dispatch for running its action; None if another delivery has it (its
    lease still runs), it is finished or it has no attempts left.

    One conditional UPDATE on the dispatch row alone decides, so two deliveries at the same
    moment cannot both win: PostgreSQL re-checks the condition on the row the winner wrote.
    Taking over an expired lease notes why, for the sentence if the attempts run out.
    """
    if task.state != State.IN_PROGRESS:
        return None
    now = timezone.now()
    taken = (
        StepDispatch.objects.filter(
            task_id=task.pk, kind=DispatchKind.AUTOMATED, finished_at__isnull=True
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(attempts__lt=settings.RELAY_STEP_MAX_ATTEMPTS)
        .update(
            claimed_by=token[:200],
            claimed_until=now + timedelta(seconds=settings.RELAY_STEP_CLAIM_LEASE),
            attempts=F("attempts") + 1,
            last_error=Case(
                When(claimed_until__isnull=False, last_error="", then=Value(LOST_WORKER)),
                default=F("last_error"),
                output_field=TextField(),
            ),
        )
    )
    return StepDispatch.objects.get(task_id=task.pk) if taken else None


def note_dispatch_error(*, task_id: int, error: str) -> None:
    """Keep why an attempt broke down outside the action (e.g. the database went away while
    recording): the sentence a step out of attempts fails with quotes it."""
    StepDispatch.objects.filter(task_id=task_id, finished_at__isnull=True).update(
        last_error=error[:2000]
    )


@transaction.atomic
def record_automated_result(*, task: Task, outcome: str, error: str = "") -> Task | None:
    """Finish an automated step's task with its action's result and close its dispatch, in one
    transaction; a repeat delivery is a no-op."""
    locked = Task.objects.select_for_update().get(pk=task.pk)
    dispatch = StepDispatch.objects.filter(task_id=locked.pk, finished_at__isnull=True)
    if locked.state == State.IN_PROGRESS or locked.state not in UNFINISHED_STATES:
        dispatch.update(finished_at=timezone.now())
    else:
        # Put on hold while the action ran: the result is dropped, and the step runs again
        # (same key) once the task is resumed, as the sweeper then finds it unclaimed.
        dispatch.update(claimed_until=None)
    if locked.state != State.IN_PROGRESS:
        return None
    if error:
        Task.objects.filter(pk=locked.pk).update(automation_error=error[:5000])
    return task_services.complete(
        task=locked, by=automation_user(), outcome=outcome, note=error[:500] if error else ""
    )


def sweep_dispatches(*, now: datetime | None = None) -> dict[str, int]:
    """Enqueue again every automated step nobody is running: its message never reached a
    worker or the worker that claimed it died (its lease expired), and its last message is
    older than RELAY_STEP_SWEEP_GRACE. A step out of attempts is finished `failed` with the
    reason, so its run routes as for a failure and the leads hear of it. Dispatches of tasks
    finished some other way (cancelled with their run, completed by a lead) are closed. Safe
    to run at any time and from several places at once: the worker's claim referees.

    External steps waiting past their SLA are failed (time_out_external_steps).

    Returns how many were closed, failed, enqueued and timed out.
    """
    now = now or timezone.now()
    unfinished = StepDispatch.objects.filter(finished_at__isnull=True)
    closed = unfinished.exclude(task__state__in=UNFINISHED_STATES).update(finished_at=now)
    timed_out = time_out_external_steps(now=now)
    waiting = unfinished.filter(kind=DispatchKind.AUTOMATED, task__state=State.IN_PROGRESS).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )
    max_attempts = settings.RELAY_STEP_MAX_ATTEMPTS
    failed = 0
    for dispatch in waiting.filter(attempts__gte=max_attempts).select_related("task"):
        reason = _("The automated step could not be run after %(n)d attempts: %(error)s.") % {
            "n": dispatch.attempts,
            "error": (dispatch.last_error or LOST_WORKER).rstrip("."),
        }
        if record_automated_result(task=dispatch.task, outcome=Outcome.FAILED, error=reason):
            failed += 1
    # Nobody holds it and its last message is older than the grace: one message per grace
    # period at most, however long the workers are away.
    grace = now - timedelta(seconds=settings.RELAY_STEP_SWEEP_GRACE)
    due = waiting.filter(attempts__lt=max_attempts, enqueued_at__lt=grace)
    enqueued = 0
    for pk, task_id in due.order_by("queued_at").values_list("pk", "task_id"):
        if not enqueue_step(task_id=task_id):
            break  # the broker is down: the next sweep tries again
        StepDispatch.objects.filter(pk=pk).update(enqueued_at=timezone.now())
        enqueued += 1
    return {"closed": closed, "failed": failed, "enqueued": enqueued, "timed_out": timed_out}


# --- external steps ----------------------------------------------------------------------------
# An external step's task waits for an outside system (a CI job, a data pipeline) to report
# `passed` or `failed` through the API. Entering the step creates the task, held by Relay
# automation, and a StepDispatch (kind external) with the hash of a one-time callback token;
# the raw token goes out once, in the team's "step.waiting" webhook event. The system reports
# with that token or with a service token of the team (report_external_result); the report
# finishes the task like a person's outcome would, so the run routes the same way. No report
# within the step's SLA fails it (time_out_external_steps, from the beat sweeper).

CALLBACK_TOKEN_PREFIX = "rcb_"
MESSAGE_MAX = 2000
LINK_MAX = StepDispatch._meta.get_field("link").max_length
TIMEOUT_REPORTER = "Relay (timeout)"
SETTLED_BY = _("%(name)s, by hand")


def hash_callback_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def result_path(task_id: int) -> str:
    """Where the outside system reports (the API's steps router)."""
    return task_services.external_result_path(task_id)


def wait_for_external(*, task: Task) -> str:
    """Record the wait for the step's system and announce it; returns the raw callback token
    (only its hash is stored)."""
    token = CALLBACK_TOKEN_PREFIX + secrets.token_urlsafe(32)
    StepDispatch.objects.create(
        task=task,
        kind=DispatchKind.EXTERNAL,
        key=f"external:task:{task.pk}",
        callback_token_hash=hash_callback_token(token),
    )
    _announce_waiting(task=task, token=token)
    return token


def _announce_waiting(*, task: Task, token: str) -> None:
    """Tell the team's webhooks (event step.waiting) that the step waits for its system; the
    delivery is written in this transaction, like every outbox row."""
    events.step_waiting(task=task, token=token, result_path=result_path(task.pk))


@dataclass(frozen=True)
class CallbackCaller:
    """A report authenticated by a task's callback token rather than by an API token: the
    API's extra auth for the steps router hands this to report_external_result, which checks
    the token against the one task it was made for."""

    callback_token: str
    user: User | None = None
    team: None = None
    scope: str = "callback"
    token: None = None


@dataclass(frozen=True)
class TeamCaller:
    """Relay itself reporting for a team, as a write-scoped service token of the team would (the
    demo's stand-in for a CI job). The API's own caller has the same attributes."""

    team: object
    label: str = ""  # how the history names the reporter
    user: User | None = None
    scope: str = "write"
    token: None = None


@dataclass(frozen=True)
class ExternalReport:
    """What an external step was reported with; `repeated` when this call changed nothing."""

    task: Task
    outcome: str
    message: str
    link: str
    reported_at: datetime
    reported_by: str
    repeated: bool = False


class ExternalReportError(WorkflowError):
    """A refused report: 401 (callback token), 403, 404, 409 or 422, with the sentence."""


def _report_of(task: Task, dispatch: StepDispatch, *, repeated: bool) -> ExternalReport:
    return ExternalReport(
        task=task,
        outcome=dispatch.outcome,
        message=dispatch.message,
        link=dispatch.link,
        reported_at=dispatch.finished_at,
        reported_by=dispatch.reported_by,
        repeated=repeated,
    )


def _external_report_line(task: Task) -> str:
    """The system's message and link, for the loop-back alert."""
    dispatch = StepDispatch.objects.filter(task_id=task.pk, kind=DispatchKind.EXTERNAL).first()
    if dispatch is None or not (dispatch.message or dispatch.link):
        return ""
    who = task.step.system or _("The system")
    text = f"{who}: {dispatch.message}" if dispatch.message else who
    return f"{text} ({dispatch.link})" if dispatch.link else text


def _close_settled_by_hand(*, task: Task, by: User | None, note: str) -> None:
    """A lead completed the external step by hand (the report and the timeout close the wait
    before they complete it): the wait is closed too, with who settled it, so the sweeper
    leaves it alone and a later report is refused (409) naming them. No outcome is stored as
    reported: the system reported nothing; the task's outcome is the lead's."""
    if by is None:
        return
    StepDispatch.objects.filter(
        task_id=task.pk, kind=DispatchKind.EXTERNAL, finished_at__isnull=True
    ).update(
        finished_at=timezone.now(),
        reported_by=(SETTLED_BY % {"name": by.display_name})[:200],
        message=note[:MESSAGE_MAX],
    )


def _not_found(task_id: int) -> ExternalReportError:
    return ExternalReportError(
        _("No task %(id)d waits for a report from an outside system.") % {"id": task_id},
        status=HTTPStatus.NOT_FOUND,
    )


def _authorise_reporter(*, task: Task, dispatch: StepDispatch, caller) -> str:
    """Who reports (for the history), or a refusal: the task's unused callback token, or a
    write-scoped service token of the task's team. Another team learns nothing (404)."""
    callback = getattr(caller, "callback_token", None)
    if callback:
        expected = dispatch.callback_token_hash
        if not expected or not secrets.compare_digest(expected, hash_callback_token(callback)):
            raise ExternalReportError(
                _("This callback token is not the one for task %(id)d.") % {"id": task.pk},
                status=HTTPStatus.UNAUTHORIZED,
            )
        if dispatch.callback_token_used_at is not None:
            raise ExternalReportError(
                _(
                    "This callback token was already used to report task %(id)d: it works "
                    "once. Report again with a service token of the team."
                )
                % {"id": task.pk},
                status=HTTPStatus.UNAUTHORIZED,
            )
        return _("%(system)s (callback token)") % {"system": task.step.system or _("system")}
    team = getattr(caller, "team", None)
    user = getattr(caller, "user", None)
    if team is None or team.pk != task.team_id:
        in_team = user is not None and people.role_in(team_id=task.team_id, user=user)
        if team is not None or not in_team:
            raise _not_found(task.pk)
        raise ExternalReportError(
            _(
                "Only a service token of %(team)s or the task's callback token can report an "
                "external step's result."
            )
            % {"team": task.team.name},
            status=HTTPStatus.FORBIDDEN,
        )
    if getattr(caller, "scope", "write") != "write":
        raise ExternalReportError(
            _("This token may only read: reporting a result needs a write token."),
            status=HTTPStatus.FORBIDDEN,
        )
    label = getattr(getattr(caller, "token", None), "actor_label", "") or getattr(
        caller, "label", ""
    )
    return label or _("service token for %(team)s") % {"team": team.name}


def _clean_report(*, outcome: str, message: str, link: str) -> tuple[str, str, str]:
    if outcome not in PASS_FAIL_OUTCOMES:
        raise ExternalReportError(
            _("The outcome must be 'passed' or 'failed', not '%(outcome)s'.")
            % {"outcome": str(outcome)[:40]},
            status=HTTPStatus.UNPROCESSABLE_ENTITY,
        )
    message = (message or "").strip()
    if len(message) > MESSAGE_MAX or "\x00" in message:
        raise ExternalReportError(
            _("The message must be text of at most %(n)d characters.") % {"n": MESSAGE_MAX},
            status=HTTPStatus.UNPROCESSABLE_ENTITY,
        )
    link = (link or "").strip()
    if link:
        # Not URLValidator: a CI server's address is often a bare host name (http://jenkins/…).
        try:
            parts = urlsplit(link)
            host = parts.hostname
        except ValueError:  # e.g. an unclosed IPv6 bracket
            parts, host = None, None
        if (
            parts is None
            or len(link) > LINK_MAX
            or parts.scheme not in ("http", "https")
            or not host
            or any(ch.isspace() or ord(ch) < 32 for ch in link)
        ):
            raise ExternalReportError(
                _("The link must be an http(s) address of at most %(n)d characters.")
                % {"n": LINK_MAX},
                status=HTTPStatus.UNPROCESSABLE_ENTITY,
            )
    return outcome, message, link


@transaction.atomic
def report_external_result(
    *,
    task: Task,
    outcome: str,
    message: str = "",
    link: str = "",
    outputs: dict | None = None,
    caller,
) -> ExternalReport:
    """An outside system reports an external step's result: the task finishes with it and the
    run routes on it exactly as on a person's outcome (a failure loops back and alerts the
    run's owner with the message and link).

    The same result again is answered as the first time and changes nothing (a CI job that
    retries after a lost response); a different one is refused. `caller` is the API's caller
    (a service token of the task's team) or a CallbackCaller with the task's one-time token.
    """
    locked = (
        Task.objects.select_for_update(of=("self",))
        .select_related("step", "team")
        .filter(pk=task.pk)
    )
    locked = locked.first()
    dispatch = (
        StepDispatch.objects.select_for_update()
        .filter(task_id=task.pk, kind=DispatchKind.EXTERNAL)
        .first()
    )
    if locked is None or dispatch is None:
        raise _not_found(task.pk)
    reporter = _authorise_reporter(task=locked, dispatch=dispatch, caller=caller)
    outcome, message, link = _clean_report(outcome=outcome, message=message, link=link)
    if outputs is not None:
        outputs, problems = fields.clean_values(output_specs(locked.step), outputs)
        if problems:
            raise ExternalReportError(problems, status=HTTPStatus.UNPROCESSABLE_ENTITY)
    if dispatch.outcome:
        if dispatch.outcome == outcome:
            return _report_of(locked, dispatch, repeated=True)
        raise ExternalReportError(
            _(
                "Task %(id)d was already reported %(outcome)s (%(by)s): a different result is "
                "refused. Its run has moved on; report on the step's next task instead."
            )
            % {"id": locked.pk, "outcome": dispatch.outcome, "by": dispatch.reported_by},
            status=HTTPStatus.CONFLICT,
        )
    if dispatch.finished_at is not None and dispatch.reported_by:
        raise ExternalReportError(
            _(
                "Task %(id)d was settled by hand (%(by)s, %(outcome)s): a report is refused. "
                "Its run has moved on; report on the step's next task instead."
            )
            % {"id": locked.pk, "by": dispatch.reported_by, "outcome": locked.outcome},
            status=HTTPStatus.CONFLICT,
        )
    if locked.state != State.IN_PROGRESS or dispatch.finished_at is not None:
        raise ExternalReportError(
            _("Task %(id)d is not waiting for a report: it is %(state)s.")
            % {"id": locked.pk, "state": locked.get_state_display().lower()},
            status=HTTPStatus.CONFLICT,
        )
    now = timezone.now()
    dispatch.outcome, dispatch.message, dispatch.link = outcome, message, link
    dispatch.reported_by, dispatch.finished_at = reporter[:200], now
    if getattr(caller, "callback_token", None):
        dispatch.callback_token_used_at = now
    dispatch.save(
        update_fields=[
            "outcome",
            "message",
            "link",
            "reported_by",
            "finished_at",
            "callback_token_used_at",
        ]
    )
    note = " ".join(part for part in (message, link) if part)
    finished = task_services.complete(
        task=locked,
        by=automation_user(),
        by_report=True,
        outcome=outcome,
        note=(_("%(by)s: %(note)s") % {"by": reporter, "note": note} if note else reporter)[:500],
        outputs=outputs,
    )
    return _report_of(finished, dispatch, repeated=False)


def time_out_external_steps(*, now: datetime | None = None) -> int:
    """Fail every external step still waiting after its SLA ("no report within N hours"); its
    run routes as on a reported failure. Safe to run twice or at once from two places: each
    is decided under the task's lock and a decided one is left alone."""
    now = now or timezone.now()
    waiting = StepDispatch.objects.filter(
        kind=DispatchKind.EXTERNAL,
        finished_at__isnull=True,
        task__state=State.IN_PROGRESS,
        task__step__sla_hours__isnull=False,
    ).values_list("task_id", "queued_at", "task__step__sla_hours")
    timed_out = 0
    for task_id, queued_at, hours in waiting:
        if queued_at + timedelta(hours=hours) <= now and _time_out(task_id=task_id, hours=hours):
            timed_out += 1
    return timed_out


@transaction.atomic
def _time_out(*, task_id: int, hours: int) -> bool:
    task = Task.objects.select_for_update().filter(pk=task_id, state=State.IN_PROGRESS).first()
    dispatch = (
        StepDispatch.objects.select_for_update()
        .filter(task_id=task_id, finished_at__isnull=True, outcome="")
        .first()
    )
    if task is None or dispatch is None:
        return False
    message = ngettext("No report within %(n)d hour.", "No report within %(n)d hours.", hours) % {
        "n": hours
    }
    dispatch.outcome, dispatch.message = Outcome.FAILED, message
    dispatch.reported_by, dispatch.finished_at = TIMEOUT_REPORTER, timezone.now()
    dispatch.save(update_fields=["outcome", "message", "reported_by", "finished_at"])
    Task.objects.filter(pk=task_id).update(automation_error=message)
    task_services.complete(
        task=task, by=automation_user(), by_report=True, outcome=Outcome.FAILED, note=message
    )
    return True


# --- template versions and drafts -------------------------------------------------------------
# A version with runs never changes. Editing it means a *draft*: version N+1 with is_draft set,
# edited freely while version N stays current and keeps serving new runs. A lead publishes the
# draft once it is valid (it becomes current; N stays for its runs) or discards it. So a bad
# save only ever touches the draft: the workflow people start never goes inactive because of it.


def is_frozen(template: WorkflowTemplate) -> bool:
    """A version with runs, or a replaced one, never changes: edit a draft instead."""
    if template.is_draft:
        return False
    return not template.is_current or template.runs.exists()


def _check_may_edit(*, by: User, team_id: int) -> None:
    from .selectors import may_edit_team_workflows

    if not may_edit_team_workflows(by, team_id=team_id):
        raise WorkflowError(
            _("Only a lead of the team can change its workflows."), status=HTTPStatus.FORBIDDEN
        )


def _copy(template: WorkflowTemplate, *, version: int, is_draft: bool) -> WorkflowTemplate:
    """Version `version` of the template: new rows for its steps and routes."""
    copy = WorkflowTemplate.objects.create(
        team_id=template.team_id,
        name=template.name,
        slug=template.slug,
        description=template.description,
        version=version,
        is_active=template.is_active,
        is_current=not is_draft,
        is_draft=is_draft,
        input_fields=template.input_fields,
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
            condition=r.condition,
            position=r.position,
        )
        for r in template.routes.all()
    )
    return copy


@transaction.atomic
def new_version(*, template: WorkflowTemplate) -> WorkflowTemplate:
    """Copy the current version into version N+1, which becomes current at once: only for an
    import, whose document was checked whole before anything is written. People editing in the
    admin get a draft (make_draft)."""
    template = WorkflowTemplate.objects.select_for_update().get(pk=template.pk)
    if not template.is_current:
        raise WorkflowError(_("Only the current version can be copied to a new one."))
    WorkflowTemplate.objects.filter(pk=template.pk).update(is_current=False)
    copy = _copy(template, version=_next_version(template), is_draft=False)
    WorkflowTemplate.objects.filter(pk=copy.pk).update(published_at=timezone.now())
    return copy


def _next_version(template: WorkflowTemplate) -> int:
    versions = WorkflowTemplate.objects.filter(team_id=template.team_id, slug=template.slug)
    return max(versions.values_list("version", flat=True), default=0) + 1


def draft_of(template: WorkflowTemplate) -> WorkflowTemplate | None:
    """The template's draft version being edited, if there is one (at most one)."""
    return WorkflowTemplate.objects.filter(
        team_id=template.team_id, slug=template.slug, is_draft=True
    ).first()


@transaction.atomic
def make_draft(*, template: WorkflowTemplate, by: User) -> WorkflowTemplate:
    """Copy the current version into a draft, version N+1, that serves no runs until published.
    The current version stays active and keeps serving new runs meanwhile."""
    _check_may_edit(by=by, team_id=template.team_id)
    template = WorkflowTemplate.objects.select_for_update().get(pk=template.pk)
    if not template.is_current:
        raise WorkflowError(
            _("Only the current version can be copied into a draft."), status=HTTPStatus.CONFLICT
        )
    existing = draft_of(template)
    if existing is not None:
        raise WorkflowError(
            _("Draft v%(v)d of '%(name)s' is already being edited: open it, or discard it first.")
            % {"v": existing.version, "name": template.name},
            status=HTTPStatus.CONFLICT,
        )
    return _copy(template, version=_next_version(template), is_draft=True)


@transaction.atomic
def publish_draft(*, draft: WorkflowTemplate, by: User) -> WorkflowTemplate:
    """Make a valid draft the current version: new runs start on it, runs on the old version
    keep theirs. An invalid draft is refused with every problem, and nothing changes."""
    _check_may_edit(by=by, team_id=draft.team_id)
    draft = WorkflowTemplate.objects.select_for_update().get(pk=draft.pk)
    if not draft.is_draft:
        raise WorkflowError(
            _("Version %(v)d is not a draft: there is nothing to publish.") % {"v": draft.version},
            status=HTTPStatus.CONFLICT,
        )
    problems = validate(graph_of(draft))
    if problems:
        raise WorkflowError(
            [
                _("Draft v%(v)d can't be published until these are fixed:") % {"v": draft.version},
                *problems,
            ],
            status=HTTPStatus.UNPROCESSABLE_ENTITY,
        )
    list(
        WorkflowTemplate.objects.select_for_update().filter(
            team_id=draft.team_id, slug=draft.slug, is_current=True
        )
    )
    WorkflowTemplate.objects.filter(team_id=draft.team_id, slug=draft.slug, is_current=True).update(
        is_current=False
    )
    draft.is_draft = False
    draft.is_current = True
    draft.is_active = True
    draft.published_at = timezone.now()
    draft.save(update_fields=["is_draft", "is_current", "is_active", "published_at"])
    return draft


@transaction.atomic
def discard_draft(*, draft: WorkflowTemplate, by: User) -> None:
    """Throw a draft away (it never served a run); the current version is untouched."""
    _check_may_edit(by=by, team_id=draft.team_id)
    draft = WorkflowTemplate.objects.select_for_update().get(pk=draft.pk)
    if not draft.is_draft:
        raise WorkflowError(
            _("Version %(v)d is not a draft: only a draft can be discarded.")
            % {"v": draft.version},
            status=HTTPStatus.CONFLICT,
        )
    draft.delete()


def editable_version(*, template: WorkflowTemplate, by: User) -> WorkflowTemplate:
    """The version to write changes into: this one, or a draft if runs hold this one."""
    if not is_frozen(template):
        return template
    return draft_of(template) or make_draft(template=template, by=by)
