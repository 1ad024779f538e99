"""Run pages. Thin: selectors decide what a user may see, services make every change."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.http import HtmxHttpRequest, errors_sentence, refused
from apps.people import selectors as people
from apps.people.models import Team

from . import diagram, selectors, services
from .forms import CancelRunForm, RetryRunForm, StartRunForm
from .models import Run, RunStatus


def _team_for(request: HtmxHttpRequest, team_slug: str) -> Team:
    return get_object_or_404(people.teams_for(user=request.user), slug=team_slug)


@require_GET
@login_required
def run_list(request: HtmxHttpRequest, team_slug: str) -> HttpResponse:
    team = _team_for(request, team_slug)
    status = request.GET.get("status", "")
    if status not in RunStatus.values:
        status = ""
    counts = selectors.status_counts(team=team)
    context = {
        "team": team,
        "runs": selectors.team_runs(team=team, status=status or None),
        "status": status,
        "statuses": [(value, label, counts[value]) for value, label in RunStatus.choices],
        "nav_active": "runs",
    }
    template = "workflows/run_list.html#run-rows" if request.htmx else "workflows/run_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@login_required
def run_start(request: HtmxHttpRequest, team_slug: str) -> HttpResponse:
    team = _team_for(request, team_slug)
    startable = selectors.startable_templates(team=team)
    picked = (request.POST if request.method == "POST" else request.GET).get("template", "")
    # Read once: the picked workflow's inputs and every workflow's preview come from this list.
    listed = list(startable.prefetch_related("steps__required_skill", "routes"))
    chosen = next((t for t in listed if str(t.pk) == picked), listed[0] if listed else None)
    form = StartRunForm(
        request.POST or None,
        templates=startable,
        chosen=chosen,
        initial={"template": chosen.pk if chosen else None},
    )
    if request.htmx and request.method == "GET":
        # The workflow picked in the form changed: its inputs' fields, nothing else.
        return render(request, "workflows/run_start.html#start-form", {"team": team, "form": form})
    problems: list[str] = []
    status = 422 if request.method == "POST" else 200
    if request.method == "POST" and form.is_valid():
        try:
            run = services.start_run(
                template=form.cleaned_data["template"],
                title=form.cleaned_data["title"],
                owner=request.user,
                by=request.user,
                inputs=form.cleaned_data["inputs"],
            )
        except services.WorkflowError as refusal:
            problems, status = refusal.problems, refusal.status
        else:
            messages.success(request, f"Run “{run.title}” started.")
            return redirect(run)
    templates = [
        (
            template,
            diagram.render(
                template, steps=list(template.steps.all()), routes=list(template.routes.all())
            ),
        )
        for template in listed
    ]
    return render(
        request,
        "workflows/run_start.html",
        {
            "team": team,
            "form": form,
            "problems": problems,
            "templates": templates,
            "nav_active": "runs",
        },
        status=status,
    )


def _run_for(request: HtmxHttpRequest, pk: int) -> Run:
    return get_object_or_404(
        selectors.visible_runs(request.user).select_related(
            "team", "template", "owner", "failed_step"
        ),
        pk=pk,
    )


def _run_context(request: HtmxHttpRequest, run: Run) -> dict:
    tasks = selectors.run_tasks(run)
    steps = list(run.template.steps.select_related("required_skill"))
    routes = list(run.template.routes.all())
    stories = selectors.run_stories(run=run, tasks=tasks, steps=steps, routes=routes)
    for task in tasks:
        task.story = stories[task.pk]
    inputs, other = selectors.run_inputs(run)
    return {
        "run": run,
        "team": run.team,
        "tasks": tasks,
        "inputs": inputs,
        "other_inputs": json.dumps(other, ensure_ascii=False) if other else "",
        "diagram": diagram.render(
            run.template,
            steps=steps,
            routes=routes,
            states=selectors.step_states(tasks),
            finished=run.status == RunStatus.COMPLETED,
        ),
        "history": selectors.run_events(run),
        "children": selectors.child_runs(run, tasks=tasks),
        "parent": selectors.parent_run_of(run),
        "may_cancel": run.status == RunStatus.RUNNING
        and services.may_cancel_run(run=run, user=request.user),
        "may_retry": run.status == RunStatus.FAILED
        and run.failed_step_id is not None
        and services.may_retry_run(run=run, user=request.user),
        "nav_active": "runs",
    }


@require_GET
@login_required
def run_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = _run_for(request, pk)
    template = "workflows/run_detail.html#run-main" if request.htmx else "workflows/run_detail.html"
    return render(request, template, _run_context(request, run))


@require_POST
@login_required
def run_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = _run_for(request, pk)
    form = CancelRunForm(request.POST)
    try:
        if not form.is_valid():
            raise services.WorkflowError([errors_sentence(form)], status=422)
        services.cancel_run(run=run, by=request.user, note=form.cleaned_data["note"])
    except services.WorkflowError as refusal:
        return refused(request, refusal, "workflows/run_detail.html", _run_context(request, run))
    messages.success(request, "Run cancelled; its open tasks were cancelled.")
    return redirect(run)


@require_POST
@login_required
def run_retry(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = _run_for(request, pk)
    form = RetryRunForm(request.POST)
    try:
        if not form.is_valid():
            raise services.WorkflowError([errors_sentence(form)], status=422)
        task = services.retry_run(run=run, by=request.user, note=form.cleaned_data["note"])
    except services.WorkflowError as refusal:
        return refused(request, refusal, "workflows/run_detail.html", _run_context(request, run))
    messages.success(
        request, f"Run retried from step “{task.step.name}” (iteration {task.iteration})."
    )
    return redirect(run)
