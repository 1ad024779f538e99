"""The assignment panel (task page and board drawer) and the team Workload page.

The panel is its own URL, loaded by htmx, so any page showing a task can include it with
`<div hx-get="{% url 'assignment:panel' task.pk %}" hx-trigger="load"></div>`.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.core.http import HtmxHttpRequest, errors_sentence, refused
from apps.core.refusals import Refused
from apps.people import selectors as people
from apps.people.models import Team
from apps.tasks import services as task_services
from apps.tasks.models import State, Task
from apps.tasks.selectors import visible_tasks

from . import selectors
from .forms import AssignForm
from .services import batch, single

PANEL = "assignment/panel.html"


def _task_for(request: HtmxHttpRequest, pk: int) -> Task:
    return get_object_or_404(
        visible_tasks(request.user).select_related("team", "assignee", "required_skill"), pk=pk
    )


def _team_for(request: HtmxHttpRequest, team_slug: str) -> Team:
    return get_object_or_404(people.teams_for(user=request.user), slug=team_slug)


def _panel_context(request: HtmxHttpRequest, task: Task, **extra) -> dict:
    is_lead = people.is_lead(team_id=task.team_id, user=request.user)
    waiting = selectors.waiting(task=task)
    ranked = (
        selectors.candidates(task=task, exclude=waiting.excluded if waiting else ())
        if task.state == State.TODO
        else []
    )
    me = next((c for c in ranked if c.user.pk == request.user.pk), None)
    return {
        "task": task,
        "is_lead": is_lead,
        "ranked": ranked,
        "me": me,
        "decision": selectors.latest_decision(task=task),
        "waiting": waiting,
        "suggest": request.GET.get("suggest") == "1",
        "page": request.GET.get("page") or request.POST.get("page", ""),
        **extra,
    }


@require_GET
@login_required
def panel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The panel: the stored decision, and for a `todo` task the ways to assign it."""
    task = _task_for(request, pk)
    return render(request, f"{PANEL}#panel", _panel_context(request, task))


@require_POST
@login_required
def assign(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Assign to the chosen person, to oneself, or (no person) to the best candidate."""
    task = _task_for(request, pk)
    form = AssignForm(request.POST, task=task)
    if not form.is_valid():
        return _refused(request, task, Refused(errors_sentence(form)))
    data = form.cleaned_data
    try:
        task_services.refuse_if_stale(task=task, expected_state=data["expected_state"])
        result = single.assign_with_decision(
            task=task,
            person=data["person"],
            by=request.user,
            override=data["override"],
            note=data["note"],
        )
    except Refused as refusal:
        return _refused(request, task, refusal)
    if result.task is None:
        message = "Nobody can take this task now; it waits and leads were told."
    else:
        message = f"Assigned to {result.task.assignee.display_name}."
    if not request.htmx:
        messages.info(request, message)
        return redirect(task)
    task = _task_for(request, pk)
    response = render(request, f"{PANEL}#panel", _panel_context(request, task, notice=message))
    if data["page"] == "task":
        response["HX-Refresh"] = "true"  # the task page's state, history and actions changed
    response["HX-Trigger"] = "relay:task-assigned"
    return response


def _refused(request: HtmxHttpRequest, task: Task, refusal: Refused) -> HttpResponse:
    """The panel, open on the ways to assign, saying why not; without htmx, the task page."""
    if request.htmx:
        context = _panel_context(request, task, suggest=True, picked=request.POST.get("person", ""))
        return refused(request, refusal, f"{PANEL}#panel", context)
    messages.error(request, refusal.message)
    return redirect(task)


def _workload_context(request: HtmxHttpRequest, team: Team) -> dict:
    return {
        "team": team,
        "rows": selectors.workload(team=team),
        "waiting": selectors.waiting_tasks(team=team)[:20],
        "pending": selectors.pending_count(team=team),
        "may_auto_assign": selectors.may_auto_assign_pending(team=team, user=request.user),
        "nav_active": "workload",
    }


@require_GET
@login_required
def workload(request: HtmxHttpRequest, team_slug: str) -> HttpResponse:
    team = _team_for(request, team_slug)
    return render(request, "assignment/workload.html", _workload_context(request, team))


@require_POST
@login_required
def auto_assign_pending(request: HtmxHttpRequest, team_slug: str) -> HttpResponse:
    team = _team_for(request, team_slug)
    try:
        result = batch.auto_assign_pending(team=team, by=request.user)
    except Refused as refusal:
        context = _workload_context(request, team)
        return refused(request, refusal, "assignment/workload.html", context)
    messages.success(
        request,
        f"Auto-assign: {result.assigned} assigned, {result.waiting} waiting for someone eligible.",
    )
    if result.held:
        messages.warning(request, f"{result.held} left to do: {result.held_because}")
    return redirect("assignment:workload", team_slug=team.slug)
