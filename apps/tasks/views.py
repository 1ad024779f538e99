"""Task pages. Thin: selectors decide what a user may see, services make every change."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from apps.core.http import HtmxHttpRequest, errors_sentence, refused
from apps.core.refusals import Refused
from apps.people import selectors as people
from apps.people.models import Team

from . import attachments, edits, search, selectors, services, watches
from .forms import (
    OUTPUT_PREFIX,
    AttachmentForm,
    AttachmentsPlaceForm,
    CommentForm,
    SearchForm,
    TaskEditForm,
    TaskForm,
    TickForm,
    TransitionForm,
    WatchForm,
    outputs_from,
)
from .models import Task


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
    return redirect(team)


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
    # htmx asks for the main panel alone (cancelling an edit, say).
    template = "tasks/task_detail.html#task-main" if request.htmx else "tasks/task_detail.html"
    return render(request, template, task_context(request, task))


def edit_task_view(
    request: HtmxHttpRequest, task: Task, *, ctx: str, panel: str, answer
) -> HttpResponse | None:
    """The edit form for the task page (ctx "page") and the drawer ("drawer"): GET shows it in
    place of the task's facts, POST saves it through apps.tasks.edits. A refusal or a form
    error answers with the form again (its status 403/409/422); None when saved, and the
    caller answers with the panel `answer()` renders, which htmx is told to put in place of
    `panel` (the form sat inside it)."""
    try:
        edits.refuse_unless_editable(task=task, by=request.user)
    except Refused as refusal:
        return refused(
            request, refusal, "tasks/partials/edit_form.html#refused", {"task": task, "ctx": ctx}
        )
    editable = edits.editable_fields(task=task, user=request.user)
    data = request.POST if request.method == "POST" else None
    form = TaskEditForm(data, task=task, editable=editable)
    context = {"task": task, "form": form, "ctx": ctx}
    if request.method == "GET":
        return render(request, "tasks/partials/edit_form.html", context)
    if not form.is_valid():
        return render(request, "tasks/partials/edit_form.html", context, status=422)
    try:
        edits.edit_task(
            task=task, by=request.user, version=form.cleaned_data["version"], **form.changes()
        )
    except Refused as refusal:
        return refused(request, refusal, "tasks/partials/edit_form.html", context)
    if not request.htmx:
        return redirect(task)
    response = answer()
    retarget(response, panel)
    reswap(response, "outerHTML")
    return response


@require_http_methods(["GET", "POST"])
@login_required
def task_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Edit the task from its page; saved, the page's main panel (with the history line)."""
    task = _task_for(request, pk)

    def answer() -> HttpResponse:
        fresh = _task_for(request, pk)
        return render(request, "tasks/task_detail.html#task-main", task_context(request, fresh))

    return edit_task_view(request, task, ctx="page", panel="#task-main", answer=answer)


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
    outputs = outputs_from(request.POST, services.output_specs(task))
    if action in ("complete", "submit") and outputs is not None:
        extra["outputs"] = outputs
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
        "typed_outputs": {
            key.removeprefix(OUTPUT_PREFIX): value[:2000]
            for key, value in request.POST.items()
            if key.startswith(OUTPUT_PREFIX)
        },
    }


@require_POST
@login_required
def task_comment(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    task = _task_for(request, pk)
    form = CommentForm(request.POST, request.FILES)
    status = 200 if form.post(task=task, author=request.user) else 422
    if status == 200:
        form = CommentForm()
    context = task_context(request, task, comment_form=form)
    if request.htmx:
        return render(request, "tasks/task_detail.html#comments", context, status=status)
    if status == 200:
        return redirect(task)
    return render(request, "tasks/task_detail.html", context, status=status)


@require_POST
@login_required
def task_watch(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Watch or unwatch a task; htmx gets the toggle back (the task page's or the drawer's)."""
    task = _task_for(request, pk)
    form = WatchForm(request.POST)
    ctx = "drawer" if form.is_valid() and form.cleaned_data["ctx"] == "drawer" else "page"
    context = {"task": task, "ctx": ctx, "may_watch": True}
    try:
        if not form.is_valid():
            raise Refused(errors_sentence(form))
        services.set_watching(
            task=task, user=request.user, watching=bool(form.cleaned_data["watching"])
        )
    except Refused as refusal:
        context["watching"] = watches.is_watching(task=task, user=request.user)
        context["may_watch"] = services.may_watch(task=task, user=request.user)
        return refused(request, refusal, "tasks/partials/watch.html", context)
    if not request.htmx:
        return redirect(task)
    context["watching"] = bool(form.cleaned_data["watching"])
    return render(request, "tasks/partials/watch.html", context)


# --- search ----------------------------------------------------------------------------------

# Results on one page of a search, and in the header's quick-open box.
SEARCH_PAGE_SIZE = 20
QUICK_OPEN_SIZE = 8


def _search_text(request: HtmxHttpRequest) -> tuple[SearchForm, str]:
    form = SearchForm(request.GET)
    return form, form.cleaned_data["q"] if form.is_valid() else ""


@require_GET
@login_required
def search_results(request: HtmxHttpRequest) -> HttpResponse:
    """Every task the person can see that matches ?q=, across their teams, paginated."""
    form, text = _search_text(request)
    tasks = search.search_tasks(user=request.user, text=text)
    page = Paginator(tasks, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "query": text, "page": page, "hits": search.hits(page, text)}
    return render(request, "search/results.html", context)


@require_GET
@login_required
def quick_open(request: HtmxHttpRequest) -> HttpResponse:
    """The header box's live results: the best few matches, as a partial."""
    form, text = _search_text(request)
    tasks = search.search_tasks(user=request.user, text=text)[:QUICK_OPEN_SIZE]
    context = {"form": form, "query": text, "hits": search.hits(tasks, text)}
    return render(request, "search/partials/quick_results.html", context)


# --- attachments -----------------------------------------------------------------------------

# A request body this much over the attachment limit is refused before it is read.
UPLOAD_OVERHEAD = 256 * 1024
# What a served attachment may do if a browser opens it as a document: nothing.
ATTACHMENT_CSP = "default-src 'none'; img-src 'self'; sandbox"


def _attachments_answer(request: HtmxHttpRequest, task: Task, ctx: str, **extra) -> HttpResponse:
    status = extra.pop("status", 200)
    context = task_context(request, task, ctx=ctx or "page", **extra)
    if request.htmx:
        return render(request, "tasks/partials/attachments.html", context, status=status)
    if status == 200:
        return redirect(task)
    return render(request, "tasks/task_detail.html", context, status=status)


@require_POST
@login_required
def task_attach(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    task = _task_for(request, pk)
    too_big = settings.ATTACHMENT_MAX_BYTES + UPLOAD_OVERHEAD
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > too_big:
        limit = filesizeformat(settings.ATTACHMENT_MAX_BYTES)
        sentence = f"Files of at most {limit} can be attached."
        return _attachments_answer(request, task, "page", attach_error=sentence, status=413)
    form = AttachmentForm(request.POST, request.FILES)
    where = AttachmentsPlaceForm(request.POST)
    ctx = where.cleaned_data.get("ctx", "") if where.is_valid() else ""
    if not form.is_valid():
        return _attachments_answer(
            request, task, ctx, attach_error=errors_sentence(form), status=422
        )
    try:
        attachments.attach(task=task, upload=form.cleaned_data["file"], by=request.user)
    except Refused as refusal:
        return _attachments_answer(
            request, task, ctx, attach_error=refusal.message, status=refusal.status
        )
    return _attachments_answer(request, task, ctx)


@require_POST
@login_required
def attachment_remove(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    attachment = get_object_or_404(selectors.visible_attachments(request.user), pk=pk)
    form = AttachmentsPlaceForm(request.POST)
    ctx = form.cleaned_data.get("ctx") if form.is_valid() else ""
    task = _task_for(request, attachment.task_id)
    try:
        attachments.remove(attachment=attachment, by=request.user)
    except Refused as refusal:
        return _attachments_answer(
            request, task, ctx, attach_error=refusal.message, status=refusal.status
        )
    return _attachments_answer(request, task, ctx)


@require_GET
@login_required
def attachment_download(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The file, to people who may see its task (anyone else: 404). Images are shown inline
    (the task page previews them); anything else is a download. Either way the browser must
    not guess another type, and the file, opened as a page, may run nothing."""
    attachment = get_object_or_404(selectors.visible_attachments(request.user), pk=pk)
    try:
        content = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is gone.") from None
    response = FileResponse(
        content,
        as_attachment=not attachment.is_image,
        filename=attachment.name,
        # Text is kept only if it decoded as UTF-8 (apps.tasks.attachments.sniff).
        content_type=attachment.content_type
        + ("; charset=utf-8" if attachment.content_type.startswith("text/") else ""),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = ATTACHMENT_CSP
    response["Cache-Control"] = "private, max-age=3600"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
