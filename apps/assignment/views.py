"""The assignment panel (task page and board drawer) and the team Workload page.

The panel is its own URL, loaded by htmx, so any page showing a task can include it with
`<div hx-get="{% url 'assignment:panel' task.pk %}" hx-trigger="load"></div>`.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.people import selectors as people
from apps.tasks.models import State
from apps.tasks.selectors import visible_tasks
from apps.tasks.services import TaskActionRefused

from . import selectors
from .forms import AssignForm
from .services import batch, single

PANEL = "assignment/panel.html"


def _task_for(request, pk):
    return get_object_or_404(
        visible_tasks(request.user).select_related("team", "assignee", "required_skill"), pk=pk
    )


def _team_for(request, team_slug):
    return get_object_or_404(people.teams_for(user=request.user), slug=team_slug)


def _panel_context(request, task, **extra) -> dict:
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
        "suggest": request.GET.get("suggest") == "1" or "error" in extra,
        "page": request.GET.get("page") or request.POST.get("page", ""),
        **extra,
    }


@require_GET
@login_required
def panel(request, pk):
    """The panel: the stored decision, and for a `todo` task the ways to assign it."""
    task = _task_for(request, pk)
    return render(request, f"{PANEL}#panel", _panel_context(request, task))


@require_POST
@login_required
def assign(request, pk):
    """Assign to the chosen person, to oneself, or (no person) to the best candidate."""
    task = _task_for(request, pk)
    form = AssignForm(request.POST, task=task)
    if not form.is_valid():
        return _refused(request, task, "; ".join(m for ms in form.errors.values() for m in ms))
    data = form.cleaned_data
    if data["expected_state"] and data["expected_state"] != task.state:
        return _refused(request, task, "Someone else changed this task first. Nothing was changed.")
    try:
        result = single.assign_with_decision(
            task=task,
            person=data["person"],
            by=request.user,
            override=data["override"],
            note=data["note"],
        )
    except TaskActionRefused as error:
        return _refused(request, task, str(error))
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


def _refused(request, task, message: str) -> HttpResponse:
    context = _panel_context(request, task, error=message, picked=request.POST.get("person", ""))
    if request.htmx:
        return render(request, f"{PANEL}#panel", context, status=409)
    messages.error(request, message)
    return redirect(task)


@require_GET
@login_required
def workload(request, team_slug):
    team = _team_for(request, team_slug)
    context = {
        "team": team,
        "rows": selectors.workload(team=team),
        "waiting": selectors.waiting_tasks(team=team)[:20],
        "pending": selectors.pending_count(team=team),
        "is_lead": people.is_lead(team_id=team.pk, user=request.user),
        "nav_active": "workload",
    }
    return render(request, "assignment/workload.html", context)


@require_POST
@login_required
def auto_assign_pending(request, team_slug):
    team = _team_for(request, team_slug)
    if not people.is_lead(team_id=team.pk, user=request.user):
        raise PermissionDenied("Only a lead can auto-assign the team's pending tasks.")
    try:
        result = batch.auto_assign_pending(team=team, by=request.user)
    except TaskActionRefused as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"Auto-assign: {result.assigned} assigned, {result.waiting} waiting for someone "
            "eligible.",
        )
    return redirect("assignment:workload", team_slug=team.slug)
