"""The board and its pieces. Thin: selectors decide what a person sees, services change it.

One template per page; HTMX answers are its partials ("boards/board.html#cell" …). A move
answers with the affected columns swapped out-of-band, plus a toast saying what happened.
"""

from urllib.parse import parse_qs, urlsplit

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import (
    condition,
    require_GET,
    require_http_methods,
    require_POST,
)
from django_htmx.http import trigger_client_event

from apps.core.http import HtmxHttpRequest, errors_sentence, refused
from apps.core.refusals import Refused
from apps.people import selectors as people
from apps.people.models import Role, Skill, Team
from apps.tasks import selectors as task_selectors
from apps.tasks import services as task_services
from apps.tasks.forms import CommentForm, TickForm, outputs_from
from apps.tasks.models import LIMITABLE_STATES, State, Task
from apps.tasks.views import edit_task_view, task_context, typed
from apps.workflows import selectors as workflow_selectors
from apps.workflows.models import Run, RunStatus, WorkflowTemplate

from . import fragments, selectors, services
from .cards import CardRenderer, QueueCardRenderer
from .forms import (
    LIST_SORTS,
    MoreCardsForm,
    MoveForm,
    OpenTaskForm,
    SavedViewForm,
    TaskListForm,
    WipLimitsForm,
)
from .models import SavedView
from .selectors import BoardFilters


def _team_for(request: HtmxHttpRequest, team_slug: str) -> Team:
    team = selectors.team_with_version(user=request.user, team_slug=team_slug)
    if team is None:
        raise Http404("No such team.")
    return team


TASK_RELATED = (
    "team__wip_limits",
    "assignee",
    "reviewer",
    "required_skill",
    "created_by",
    "run__template",
    "step",
)


def _task_for(request: HtmxHttpRequest, pk: int, related=TASK_RELATED) -> Task:
    return get_object_or_404(
        task_selectors.visible_tasks(request.user).select_related(*related), pk=pk
    )


def _card_base() -> str:
    """URLs of a card's endpoints are this + "<pk>/<what>/": one reverse() per page, not three
    per card (with hundreds of cards, reversing was a visible part of the render time)."""
    return reverse("boards:move", args=[0]).removesuffix("0/move/")


def _cards(filters: BoardFilters) -> dict:
    base = _card_base()
    return {
        "card_base": base,
        "card_renderer": CardRenderer(card_base=base, query=filters.query_string()),
    }


def _limits(team: Team) -> dict:
    settings = selectors.settings_of(team)
    return dict(settings.limits) if settings else {}


def _board_filters_from_page(request: HtmxHttpRequest) -> BoardFilters:
    """The filters of the board page a request came from (htmx sends its URL)."""
    url = request.htmx.current_url if request.htmx else ""
    query = parse_qs(urlsplit(url or "").query)
    data = QueryDict(mutable=True)
    for key, values in query.items():
        data.setlist(key, values)
    return BoardFilters.from_query(data)


def _board_context(request: HtmxHttpRequest, team: Team, filters: BoardFilters) -> dict:
    cards = _cards(filters)
    return {
        "team": team,
        "filters": filters,
        **cards,
        "board_grid": fragments.board_grid(
            team=team, version=team.v_team, user=request.user, filters=filters, context=cards
        ),
        "etag": selectors.etag_for(
            version=selectors.version_of(team), user=request.user, filters=filters
        ),
    }


@require_GET
@login_required
def board(request: HtmxHttpRequest, team_slug: str) -> HttpResponse:
    team = _team_for(request, team_slug)
    filters = BoardFilters.from_query(request.GET)
    context = _board_context(request, team, filters)
    if request.htmx and request.htmx.target == "board-body":
        response = render(request, "boards/board.html#board-body", context)
        # Bookmarkable and tidy: only the filters that are set, in a stable order.
        query = filters.query_string()
        response["HX-Push-Url"] = request.path + (f"?{query}" if query else "")
        return response
    choices = {
        "members": people.team_members(team=team),
        "skills": Skill.objects.filter(is_review_skill=False).only("slug", "name"),
        "templates": WorkflowTemplate.objects.filter(team=team, is_current=True).only(
            "slug", "name"
        ),
        "runs": Run.objects.filter(team=team, status=RunStatus.RUNNING).only("pk", "title")[:200],
        "lanes": selectors.LANES,
        "due_choices": selectors.DUE_CHOICES,
    }
    context.update(
        nav_active="board",
        may_change_wip_limits=services.may_change_wip_limits(
            user=request.user, role=team.viewer_role
        ),
        manages_webhooks=team.viewer_role == Role.LEAD,
        saved_views=SavedView.objects.filter(owner=request.user, team=team),
        filter_controls=fragments.filter_controls(
            team=team, version=team.v_team, user=request.user, filters=filters, context=choices
        ),
        open_task=_open_task(request),
        done_window_days=selectors.DONE_WINDOW.days,
    )
    return render(request, "boards/board.html", context)


def _open_task(request: HtmxHttpRequest) -> int | None:
    form = OpenTaskForm(request.GET)
    return form.cleaned_data["task"] if form.is_valid() else None


def _poll_etag(request: HtmxHttpRequest, team_slug: str) -> str:
    """The board's ETag for this person and these filters: one query, no queryset built
    (selectors.board_version). condition() calls this before the view; only a changed board
    reads the team again, to render it. A team this person may not see is a 404."""
    version = selectors.board_version(user=request.user, team_slug=team_slug)
    if version is None:
        raise Http404("No such team.")
    return selectors.etag_for(
        version=version, user=request.user, filters=BoardFilters.from_query(request.GET)
    )


@require_GET
@login_required
@cache_control(private=True, no_cache=True)
@condition(etag_func=_poll_etag)
def poll(request: HtmxHttpRequest, team_slug: str) -> HttpResponse:
    """Live refresh: 304 while nothing on the board changed (one query), else the board."""
    filters = BoardFilters.from_query(request.GET)
    team = _team_for(request, team_slug)
    context = _board_context(request, team, filters)
    context["counts"] = task_selectors.work_counts(user=request.user)
    return render(request, "boards/board.html#poll", context)


@require_GET
@login_required
def more_cards(request: HtmxHttpRequest, team_slug: str) -> HttpResponse:
    team = _team_for(request, team_slug)
    filters = BoardFilters.from_query(request.GET)
    form = MoreCardsForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(errors_sentence(form), content_type="text/plain")
    state = form.cleaned_data["state"]
    if state not in filters.states:
        raise Http404("No such column.")
    lane = form.cleaned_data["lane"] or 0
    offset = form.cleaned_data["offset"] or 0
    cards, more = selectors.more_cards(
        team=team, user=request.user, filters=filters, state=state, lane=lane, offset=offset
    )
    return render(
        request,
        "boards/board.html#more-cards",
        {
            "team": team,
            "filters": filters,
            "cards": cards,
            "more": more,
            "state": state,
            "lane": lane,
            "next_offset": offset + len(cards),
            **_cards(filters),
        },
    )


def _toast(message: str, *, error: bool = False) -> dict:
    return {"toast": message, "toast_error": error}


def _moved_message(result: services.MoveResult) -> str:
    task = result.task
    if result.action == "assign" and task.assignee:
        return _("Assigned “%(title)s” to %(name)s.") % {
            "title": task.title,
            "name": task.assignee.display_name,
        }
    return _("“%(title)s” → %(col)s.") % {"title": task.title, "col": task.get_state_display()}


@require_POST
@login_required
def move(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A drop (from/to columns) or a picked action, from the board, drawer or a queue page."""
    # The team and its limits only: the service reads the task again under its lock, and the
    # answer shows what it returns (joining all seven relations cost PostgreSQL more to plan
    # than to run, ~7 ms of a move on a million tasks).
    task = _task_for(request, pk, related=("team__wip_limits",))
    form = MoveForm(request.POST)
    where = request.POST.get("ctx", "board")
    from_state, team = task.state, task.team
    status = 200
    if not form.is_valid():
        message, status, result = errors_sentence(form), 422, None
    else:
        data = form.cleaned_data
        try:
            if data["action"] == "reorder":
                services.reorder(team=task.team, state=task.state, ordered_ids=data["order"])
                result = None
            elif data["to"]:
                result = services.move(
                    task=task,
                    from_state=data["from_state"] or task.state,
                    to_state=data["to"],
                    by=request.user,
                    order=data["order"],
                )
            else:
                result = services.act(
                    task=task,
                    action=data["action"],
                    by=request.user,
                    expected_state=data["expected_state"] or None,
                    note=data["note"],
                    outcome=data["outcome"],
                    order=data["order"],
                    outputs=outputs_from(request.POST, task_services.output_specs(task)),
                )
        except Refused as refusal:
            message, status, result = refusal.message, refusal.status, None
        else:
            if result is not None and result.refused:
                message, status, result = result.refused, 409, None
        if status == 200:
            message = _moved_message(result) if result else ""
            if result and result.warning:
                message = f"{message} {result.warning}"
    if result is not None:
        task = result.task
        task.team = team  # keep the settings selected with it
    else:
        task.refresh_from_db()
    context = {"task": task, **_toast(message, error=status != 200)}
    if result is not None and result.warning:
        context["toast_warning"] = True
    if status != 200:
        # Refused: the forms come back with what the person typed, and say why next to it.
        context.update(typed(request), action_error=message)
    if where in ("mywork", "reviews"):
        task = selectors.queue_row(user=request.user, pk=task.pk)
        context.update(_queue_context(request, where), task=task)
        context["actions"] = _queue_actions(request, task, where)
        return render(request, "boards/queues.html#row-response", context, status=status)
    # The column it was dropped on too: a refused card must leave it (snap back).
    dropped_on = request.POST.get("to", "")
    context.update(_columns_context(request, task, {from_state, task.state, dropped_on}))
    if where == "drawer":
        context.update(task_context(request, _task_for(request, pk)))
        return render(request, "boards/drawer.html#drawer-response", context, status=status)
    return render(request, "boards/board.html#move-response", context, status=status)


def _columns_context(request: HtmxHttpRequest, task: Task, states: set[str]) -> dict:
    """The affected columns, as the board page the request came from shows them. With
    swimlanes a move may add or empty a lane, so the whole board body is re-rendered."""
    filters = _board_filters_from_page(request)
    team = task.team
    whole = filters.lane != "none"
    board = selectors.board(
        team=team,
        user=request.user,
        filters=filters,
        limits=_limits(team),
        states=None if whole else tuple(s for s in filters.states if s in states),
    )
    cards = _cards(filters)
    context = {
        "team": team,
        "board": board,
        "filters": filters,
        "oob": True,
        "whole_board": whole,
        "etag": "",  # the next poll brings the fresh version
        **cards,
    }
    if whole:
        context["board_grid"] = render_to_string(
            "boards/board.html#board-grid", {**context, "oob": False}
        )
    return context


@require_GET
@login_required
def card_menu(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The keyboard/menu way to move a card: the moves this person may make, as buttons."""
    task = _task_for(request, pk)
    actions = task_selectors.available_actions(task=task, user=request.user)
    moves = [
        (a, State(task_services.target_of(task=task, action=a.name)).label)
        for a in actions
        if a.name != "assign" or task.state == State.TODO
    ]
    return render(request, "boards/board.html#card-menu", {"task": task, "moves": moves})


@require_GET
@login_required
def drawer(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    task = _task_for(request, pk)
    return render(request, "boards/drawer.html#drawer-body", task_context(request, task))


@require_http_methods(["GET", "POST"])
@login_required
def edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Edit the task from the drawer; saved, the drawer again, and the board polls at once
    (the card shows the new title, due date or priority)."""
    task = _task_for(request, pk)

    def answer() -> HttpResponse:
        fresh = _task_for(request, pk)
        response = render(request, "boards/drawer.html#drawer-body", task_context(request, fresh))
        return trigger_client_event(response, "relay:task-edited")

    return edit_task_view(request, task, ctx="drawer", panel="#drawer-body", answer=answer)


@require_POST
@login_required
def comment(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    task = _task_for(request, pk)
    form = CommentForm(request.POST, request.FILES)
    status = 200 if form.post(task=task, author=request.user) else 422
    if status == 200:
        form = CommentForm()
    context = task_context(request, task, comment_form=form)
    return render(request, "boards/drawer.html#comments", context, status=status)


@require_POST
@login_required
def tick(request: HtmxHttpRequest, pk: int, item_pk: int) -> HttpResponse:
    task = _task_for(request, pk)
    item = get_object_or_404(task.checklist, pk=item_pk)
    form = TickForm(request.POST)
    try:
        if not form.is_valid():
            raise Refused(errors_sentence(form), status=422)
        services.tick(item=item, by=request.user, done=form.cleaned_data["done"])
    except Refused as refusal:
        context = task_context(request, task)
        return refused(request, refusal, "boards/drawer.html#checklist", context)
    return render(request, "boards/drawer.html#checklist", task_context(request, task))


@require_http_methods(["GET", "POST"])
@login_required
def wip_settings(request: HtmxHttpRequest, team_slug: str) -> HttpResponse:
    team = _team_for(request, team_slug)
    settings = selectors.settings_of(team)
    initial = {
        f"limit_{s}": (settings.limit_for(s) if settings else None) for s in LIMITABLE_STATES
    }
    initial["soft"] = settings.soft if settings else False
    form = WipLimitsForm(request.POST or None, initial=initial)
    try:
        # Asked before the form is shown too: someone who may not change the limits gets why.
        services.check_may_change_wip_limits(team=team, by=request.user)
        if request.method == "POST" and form.is_valid():
            services.save_wip_limits(
                team=team, by=request.user, limits=form.limits(), soft=form.cleaned_data["soft"]
            )
            return redirect("boards:board", team_slug=team.slug)
    except Refused as refusal:
        return refused(request, refusal, "boards/wip_settings.html", {"team": team})
    return render(request, "boards/wip_settings.html", {"team": team, "form": form})


@require_POST
@login_required
def save_view(request: HtmxHttpRequest, team_slug: str) -> HttpResponse:
    team = _team_for(request, team_slug)
    form = SavedViewForm(request.POST)
    query = ""
    if form.is_valid():
        query = BoardFilters.from_query(QueryDict(form.cleaned_data["query"])).query_string()
        SavedView.objects.update_or_create(
            owner=request.user, team=team, name=form.cleaned_data["name"], defaults={"query": query}
        )
    return redirect(reverse("boards:board", args=[team.slug]) + (f"?{query}" if query else ""))


@require_POST
@login_required
def delete_view(request: HtmxHttpRequest, team_slug: str, view_pk: int) -> HttpResponse:
    team = _team_for(request, team_slug)
    get_object_or_404(SavedView, pk=view_pk, owner=request.user, team=team).delete()
    return redirect("boards:board", team_slug=team.slug)


# The queue pages offer the work's next step only; holding or cancelling is for the drawer.
QUEUE_ACTIONS = {
    "mywork": ("start", "submit", "complete"),
    "reviews": ("approve", "request_changes", "reject"),
}


def _queue_actions(request: HtmxHttpRequest, task: Task, where: str) -> list:
    task.outcomes = task_services.allowed_outcomes(task)
    return task_selectors.available_actions(
        task=task, user=request.user, among=QUEUE_ACTIONS[where]
    )


@require_GET
@login_required
def work_links(request: HtmxHttpRequest) -> HttpResponse:
    """The header's My work / Awaiting my review counts (loaded after the page, and with polls),
    and, for leads, the link to their Workflow admin."""
    return render(
        request,
        "boards/partials/work_links.html",
        {
            "counts": task_selectors.work_counts(user=request.user),
            "nav_active": request.GET.get("active", ""),
            "edits_workflows": workflow_selectors.may_edit_workflows(request.user),
        },
    )


def _queue_context(request: HtmxHttpRequest, where: str) -> dict:
    return {"ctx": where, "card_renderer": QueueCardRenderer(viewer=request.user)}


def _queue_page(request: HtmxHttpRequest, *, tasks, where: str) -> HttpResponse:
    tasks = list(tasks)
    for task in tasks:
        task.actions = _queue_actions(request, task, where)
    return render(
        request,
        "boards/queues.html",
        {
            "tasks": tasks,
            "nav_active": where,
            **_queue_context(request, where),
        },
    )


@require_GET
@login_required
def my_work(request: HtmxHttpRequest) -> HttpResponse:
    return _queue_page(request, tasks=selectors.my_work(user=request.user), where="mywork")


@require_GET
@login_required
def reviews(request: HtmxHttpRequest) -> HttpResponse:
    return _queue_page(
        request, tasks=selectors.awaiting_my_review(user=request.user), where="reviews"
    )


# Rows on one page of a team's task list.
LIST_PAGE_SIZE = 50


@require_GET
@login_required
def task_list(request: HtmxHttpRequest, team_slug: str) -> HttpResponse:
    """Every task of the team, one page at a time, filtered like the board (the same names in
    the URL), in any state and order. htmx asks for the rows alone; the address bar follows.
    A parameter that is not valid answers 400 with a sentence naming it, and the list as it
    is without that parameter."""
    team = _team_for(request, team_slug)
    form = TaskListForm(request.GET)
    form.is_valid()
    data = form.valid_data()
    filters = BoardFilters.from_cleaned(data)
    state, sort = data.get("state", ""), data.get("sort", "")
    tasks = selectors.task_list(
        team=team, user=request.user, filters=filters, state=state, sort=sort
    )
    # A page past the end (a bookmark of a list that shrank) shows the last one.
    page = Paginator(tasks, LIST_PAGE_SIZE).get_page(data.get("page"))
    base = QueryDict(mutable=True)
    base.update(QueryDict(filters.query_string()))
    for name, value in (("state", state), ("sort", sort)):
        if value:
            base[name] = value
    context = {
        "team": team,
        "page": page,
        "page_links": _page_links(page, base),
        "previous_query": _list_url("", base, page.number - 1) if page.has_previous() else "",
        "next_query": _list_url("", base, page.number + 1) if page.has_next() else "",
        "filters": filters,
        "state": state,
        "sort": sort,
        "query": base.urlencode(),
        "board_query": filters.query_string(),
        "problems": form.problems(),
    }
    status = 400 if form.errors else 200
    if request.htmx:
        response = render(request, "boards/task_list.html#task-rows", context, status=status)
        response["HX-Push-Url"] = _list_url(request.path, base, page.number)
        return response
    context.update(
        nav_active="tasks",
        states=State.choices,
        sorts=LIST_SORTS,
        members=people.team_members(team=team).only("username", "first_name", "last_name"),
        skills=Skill.objects.filter(is_review_skill=False).only("slug", "name"),
        templates=WorkflowTemplate.objects.filter(team=team, is_current=True).only("slug", "name"),
        runs=Run.objects.filter(team=team, status=RunStatus.RUNNING).only("pk", "title")[:200],
        due_choices=selectors.DUE_CHOICES,
    )
    return render(request, "boards/task_list.html", context, status=status)


def _list_url(path: str, base: QueryDict, number: int) -> str:
    query = base.copy()
    if number > 1:
        query["page"] = str(number)
    return path + (f"?{query.urlencode()}" if query else "")


def _page_links(page, base: QueryDict) -> list[tuple[int | str, str | None]]:
    """(label, query string) of each link of the pager: the first, the last and the pages
    around this one; "…" (no link) where pages are left out."""
    links = []
    for number in page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1):
        if number == page.paginator.ELLIPSIS:
            links.append((number, None))
        else:
            links.append((number, _list_url("", base, number)))
    return links
