"""API: workflow runs — start one from a template with inputs, see where it stands, cancel it,
retry a failed one. The run pages' forms validate the input; apps.workflows.services acts."""

import json
from datetime import datetime
from http import HTTPStatus
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from apps.core.http import errors_sentence
from apps.core.refusals import Refused
from apps.workflows import selectors, services
from apps.workflows.forms import CancelRunForm, RetryRunForm, StartRunForm
from apps.workflows.models import Run, RunStatus

from . import access
from .access import SLUG_PATTERN, Id, Slug
from .errors import ERRORS
from .tasks import TaskRow, _row

router = Router(tags=["runs"])


class StepOut(Schema):
    key: str
    name: str
    kind: str
    # "current" (it has an open task), "done" (with its latest outcome) or "" (not reached).
    status: str
    outcome: str
    iteration: int


class RunRow(Schema):
    id: int
    title: str
    template: str
    version: int
    status: str
    owner: str | None
    started_at: datetime
    finished_at: datetime | None


class RunDetail(RunRow):
    team: str
    inputs: dict[str, Any]
    failure_reason: str
    # A failed run: the key of the step it failed at, where a lead's retry starts again.
    failed_step: str | None
    # The steps with an open task: where the run stands.
    current_steps: list[str]
    steps: list[StepOut]
    tasks: list[TaskRow]


def _run_row(run: Run) -> dict:
    return {
        "id": run.pk,
        "title": run.title,
        "template": run.template.slug,
        "version": run.template.version,
        "status": run.status,
        "owner": run.owner.username if run.owner_id else None,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def run_detail_of(caller, pk: int) -> dict:
    run = access.run(caller, pk)
    tasks = selectors.run_tasks(run)
    states = selectors.step_states(tasks)
    steps = []
    for step in run.template.steps.order_by("position", "pk"):
        state = states.get(step.pk)
        steps.append(
            {
                "key": step.key,
                "name": step.name,
                "kind": step.kind,
                "status": state.status if state else "",
                "outcome": state.outcome if state else "",
                "iteration": state.iteration if state else 0,
            }
        )
    return {
        **_run_row(run),
        "team": run.team.slug,
        "inputs": run.inputs,
        "failure_reason": run.failure_reason,
        "failed_step": run.failed_step.key if run.failed_step_id else None,
        "current_steps": [s["key"] for s in steps if s["status"] == "current"],
        "steps": steps,
        "tasks": [_row(t) for t in tasks],
    }


@router.get(
    "teams/{slug}/runs",
    response={200: list[RunRow], **ERRORS},
    summary="The team's runs, newest first",
)
def run_list(
    request,
    slug: Slug,
    status: str = Query("", max_length=20),
    limit: int = Query(50, ge=1, le=100),
):
    team = access.team(request.auth, slug)
    if status and status not in RunStatus.values:
        raise Refused(
            _("Status is one of %(names)s.") % {"names": ", ".join(RunStatus.values)},
            status=HTTPStatus.UNPROCESSABLE_ENTITY,
        )
    runs = selectors.team_runs(team=team, status=status or None)[:limit]
    return [_run_row(run) for run in runs]


class RunIn(Schema):
    template: str = Field(
        ..., max_length=80, pattern=SLUG_PATTERN, description="The workflow template's slug."
    )
    title: str = Field(..., max_length=200)
    inputs: dict[str, Any] = Field(default_factory=dict)


@router.post(
    "teams/{slug}/runs",
    response={201: RunDetail, **ERRORS},
    summary="Start a run of a workflow template",
)
def run_start(request, slug: Slug, payload: RunIn):
    caller = request.auth
    team = access.team(caller, slug)
    startable = selectors.startable_templates(team=team)
    template = startable.filter(slug=payload.template).first()
    if template is None:
        raise Refused(
            _("No workflow '%(slug)s' to start in %(team)s.")
            % {"slug": payload.template, "team": team.name},
            status=HTTPStatus.UNPROCESSABLE_ENTITY,
        )
    form = StartRunForm(
        {
            "template": template.pk,
            "title": payload.title,
            "inputs": json.dumps(payload.inputs, cls=DjangoJSONEncoder),
        },
        templates=startable,
    )
    if not form.is_valid():
        raise Refused(errors_sentence(form), status=HTTPStatus.UNPROCESSABLE_ENTITY)
    run = services.start_run(
        template=template,
        title=form.cleaned_data["title"],
        # A service token's run belongs to the lead who made the token (they hear its alerts);
        # Relay itself starts it (the token is the team's, so membership was checked by it).
        owner=caller.token.user if caller.is_service else caller.user,
        by=None if caller.is_service else caller.user,
        inputs=form.cleaned_data["inputs"],
    )
    return Status(201, run_detail_of(caller, run.pk))


@router.get("runs/{run_id}", response={200: RunDetail, **ERRORS}, summary="One run")
def run_detail(request, run_id: Id):
    return run_detail_of(request.auth, run_id)


class CancelIn(Schema):
    note: str = Field("", max_length=500)


@router.post("runs/{run_id}/cancel", response={200: RunDetail, **ERRORS}, summary="Cancel a run")
def run_cancel(request, run_id: Id, payload: CancelIn):
    caller = request.auth
    run = access.run(caller, run_id)
    form = CancelRunForm({"note": payload.note})
    if not form.is_valid():
        raise Refused(errors_sentence(form), status=HTTPStatus.UNPROCESSABLE_ENTITY)
    services.cancel_run(run=run, by=caller.user, note=caller.note(form.cleaned_data["note"]))
    return run_detail_of(caller, run.pk)


class RetryIn(Schema):
    note: str = Field("", max_length=500)


@router.post(
    "runs/{run_id}/retry",
    response={200: RunDetail, **ERRORS},
    summary="Retry a failed run from the step it failed at (a lead's)",
)
def run_retry(request, run_id: Id, payload: RetryIn):
    caller = request.auth
    run = access.run(caller, run_id)
    form = RetryRunForm({"note": payload.note})
    if not form.is_valid():
        raise Refused(errors_sentence(form), status=HTTPStatus.UNPROCESSABLE_ENTITY)
    services.retry_run(run=run, by=caller.user, note=caller.note(form.cleaned_data["note"]))
    return run_detail_of(caller, run.pk)
