"""Task pages. Thin: selectors decide what a user may see, services make every change."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.http import HtmxHttpRequest, errors_sentence, refused
from apps.core.refusals import Refused
from apps.people import selectors as people
from apps.people.models import Team

from . import selectors, services
from .forms import CommentForm, TaskForm, TaskListForm, TickForm, TransitionForm
from .models import State, Task

# Rows on one page of a team's task list.
PAGE_SIZE = 50


def _team_for(request: HtmxHttpRequest, team_slug: str) -> Team:
    return get_object_or_404(people.teams_for(user=request.user), slug=team_slug)


def _task_for(request: HtmxHttpRequest, pk: int) -> Task:
    return get_object_or_404(
        selectors.visible_tasks(request.user).select_related(
            "team", "assignee", "reviewer", "required_skill", "created_by", "run__template", "step"
        ),
        pk=pk,
    )


@require_GET
@login_required
def home(request: HtmxHttpRequest) -> HttpResponse:
    team = people.teams_for(user=request.user).first()
    if team is None:
        return render(request, "tasks/no_team.html")
    return redirect("tasks:team_tasks", team_slug=team.slug)


@require_GET
@login_required
def team_tasks(request: HtmxHttpRequest, team_slug: str) -> HttpResponse:
    team = _team_for(request, team_slug)
    form = TaskListForm(request.GET)
    form.is_valid()
    state = form.cleaned_data.get("state", "")
    query = form.cleaned_data.get("q", "")
    tasks = selectors.team_task_list(team=team, state=state or None, query=query)
    # Never a 500 for a bad ?page=: not a number shows the first page, out of range the last.
    page = Paginator(tasks, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "team": team,
        "page": page,
        "states": State.choices,
        "state": state,
        "query": query,
    }
    template = "tasks/task_list.html#task-rows" if request.htmx else "tasks/task_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@login_required
def task_create(request: HtmxHttpRequest, team_slug: str) -> HttpResponse:
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


def task_context(request: HtmxHttpRequest, task: Task, **extra) -> dict:
    """What the task page and the board's drawer render (the same partials), for this viewer."""
    return {
        **selectors.task_panels(task=task, user=request.user),
        "comment_form": CommentForm(),
        **extra,
    }


@require_GET
@login_required
def task_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    task = _task_for(request, pk)
    return render(request, "tasks/task_detail.html", task_context(request, task))


@require_POST
@login_required
def task_transition(request: HtmxHttpRequest, pk: int, action: str) -> HttpResponse:
    task = _task_for(request, pk)
    if action not in services.ACTIONS:
        raise Http404("No such action.")
    form = TransitionForm(request.POST)
    if not form.is_valid():
        return _refused(request, task, Refused(errors_sentence(form)))
    extra = {}
    if action == "complete" and form.cleaned_data["outcome"]:
        extra["outcome"] = form.cleaned_data["outcome"]
    try:
        task = services.perform_retrying(
            task=task,
            action=action,
            by=request.user,
            note=form.cleaned_data["note"],
            expected_state=form.cleaned_data["expected_state"] or None,
            **extra,
        )
    except Refused as refusal:
        return _refused(request, task, refusal)
    warning = getattr(task, "wip_warning", "")
    task = _task_for(request, pk)
    if request.htmx:
        context = task_context(request, task, warning=warning)
        return render(request, "tasks/task_detail.html#task-main", context)
    if warning:
        messages.warning(request, warning)
    return redirect(task)


@require_POST
@login_required
def task_tick(request: HtmxHttpRequest, pk: int, item_pk: int) -> HttpResponse:
    """Tick or untick a checklist item on the task page: answers with the task's main panel
    (htmx; its actions and any earlier refusal then match the ticks, and the note being typed
    comes along) or the page (a plain form post), saying why if it was refused."""
    task = _task_for(request, pk)
    item = get_object_or_404(task.checklist, pk=item_pk)
    template = "tasks/task_detail.html#task-main" if request.htmx else "tasks/task_detail.html"
    form = TickForm(request.POST)
    try:
        if not form.is_valid():
            raise Refused(errors_sentence(form), status=422)
        services.toggle_checklist_item(item=item, by=request.user, done=form.cleaned_data["done"])
    except Refused as refusal:
        return refused(request, refusal, template, task_context(request, task, **typed(request)))
    if not request.htmx:
        return redirect(task)
    return render(request, template, task_context(request, task, **typed(request)))


def _refused(request: HtmxHttpRequest, task: Task, refusal: Refused) -> HttpResponse:
    """The task as it now is, saying why not, with what the person typed still in the form."""
    task.refresh_from_db()
    template = "tasks/task_detail.html#task-main" if request.htmx else "tasks/task_detail.html"
    return refused(request, refusal, template, task_context(request, task, **typed(request)))


def typed(request: HtmxHttpRequest) -> dict:
    """What the person typed into an action form, to show again when the action was refused."""
    return {
        "typed_note": request.POST.get("note", "")[:2000],
        "typed_outcome": request.POST.get("outcome", ""),
    }


@require_POST
@login_required
def task_comment(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    task = _task_for(request, pk)
    form = CommentForm(request.POST)
    status = 200 if form.post(task=task, author=request.user) else 422
    if status == 200:
        form = CommentForm()
    context = task_context(request, task, comment_form=form)
    if request.htmx:
        return render(request, "tasks/task_detail.html#comments", context, status=status)
    if status == 200:
        return redirect(task)
    return render(request, "tasks/task_detail.html", context, status=status)
