"""Task pages. Thin: selectors decide what a user may see, services make every change."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.people import selectors as people

from . import selectors, services
from .forms import CommentForm, TaskForm, TransitionForm
from .models import State


def _team_for(request, team_slug):
    return get_object_or_404(people.teams_for(user=request.user), slug=team_slug)


def _task_for(request, pk):
    return get_object_or_404(
        selectors.visible_tasks(request.user).select_related(
            "team", "assignee", "reviewer", "required_skill", "created_by", "run__template", "step"
        ),
        pk=pk,
    )


@require_GET
@login_required
def home(request):
    team = people.teams_for(user=request.user).first()
    if team is None:
        return render(request, "tasks/no_team.html")
    return redirect("tasks:team_tasks", team_slug=team.slug)


@require_GET
@login_required
def team_tasks(request, team_slug):
    team = _team_for(request, team_slug)
    state = request.GET.get("state", "")
    if state and state not in State.values:
        state = ""
    query = request.GET.get("q", "").strip()[:100]
    context = {
        "team": team,
        "tasks": selectors.team_task_list(team=team, state=state or None, query=query),
        "states": State.choices,
        "state": state,
        "query": query,
        "is_lead": people.is_lead(team_id=team.pk, user=request.user),
    }
    template = "tasks/task_list.html#task-rows" if request.htmx else "tasks/task_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@login_required
def task_create(request, team_slug):
    team = _team_for(request, team_slug)
    form = TaskForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            task = services.create_task(team=team, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect(task)
    return render(request, "tasks/task_form.html", {"team": team, "form": form})


def _detail_context(request, task, **extra):
    return {
        **selectors.task_panels(task=task, user=request.user),
        "comment_form": CommentForm(),
        **extra,
    }


@require_GET
@login_required
def task_detail(request, pk):
    task = _task_for(request, pk)
    return render(request, "tasks/task_detail.html", _detail_context(request, task))


@require_POST
@login_required
def task_transition(request, pk, action):
    task = _task_for(request, pk)
    if action not in services.ACTIONS:
        raise Http404("No such action.")
    form = TransitionForm(request.POST)
    if not form.is_valid():
        return _refused(request, task, "; ".join(m for ms in form.errors.values() for m in ms))
    extra = {}
    if action == "complete" and form.cleaned_data["outcome"]:
        extra["outcome"] = form.cleaned_data["outcome"]
    try:
        task = services.perform(
            task=task,
            action=action,
            by=request.user,
            note=form.cleaned_data["note"],
            expected_state=form.cleaned_data["expected_state"] or None,
            **extra,
        )
    except services.TaskActionRefused as error:
        return _refused(request, task, str(error))
    task = _task_for(request, pk)
    if request.htmx:
        return render(request, "tasks/task_detail.html#task-main", _detail_context(request, task))
    return redirect(task)


def _refused(request, task, message: str) -> HttpResponse:
    task.refresh_from_db()
    context = _detail_context(request, task, error=message)
    if request.htmx:
        response = render(request, "tasks/task_detail.html#task-main", context, status=409)
        return response
    return render(request, "tasks/task_detail.html", context, status=409)


@require_POST
@login_required
def task_comment(request, pk):
    task = _task_for(request, pk)
    form = CommentForm(request.POST)
    status = 200 if form.post(task=task, author=request.user) else 422
    if status == 200:
        form = CommentForm()
    context = _detail_context(request, task, comment_form=form)
    if request.htmx:
        return render(request, "tasks/task_detail.html#comments", context, status=status)
    if status == 200:
        return redirect(task)
    return render(request, "tasks/task_detail.html", context, status=status)
