"""API: tasks — the team's list (the board's filters), one task with its history, creating,
commenting, and taking a transition by name. The pages' forms validate what comes in, and the
pages' services decide and refuse."""

import base64
import binascii
from datetime import datetime
from http import HTTPStatus
from typing import Annotated

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from apps.boards import selectors as boards
from apps.boards.forms import TaskListForm
from apps.core.http import errors_sentence
from apps.core.refusals import Refused
from apps.people.models import Skill, User
from apps.tasks import selectors as task_selectors
from apps.tasks import services
from apps.tasks.forms import CommentForm, TaskForm, TransitionForm
from apps.tasks.models import Comment, Task

from . import access
from .access import SLUG_PATTERN, Id, Slug
from .errors import ERRORS

router = Router(tags=["tasks"])

MAX_PAGE = 100


def invalid(sentence: str) -> Refused:
    return Refused(sentence, status=HTTPStatus.UNPROCESSABLE_ENTITY)


# --- what goes out --------------------------------------------------------------------------


class PersonRef(Schema):
    username: str
    display_name: str


def person(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"username": user.username, "display_name": user.display_name}


class TaskRow(Schema):
    id: int
    title: str
    state: str
    outcome: str
    priority: int
    due_at: datetime | None
    iteration: int
    assignee: str | None
    required_skill: str | None
    min_level: int
    run: int | None
    # The workflow step's key, for a run's task.
    step: str | None
    updated_at: datetime


class TaskPage(Schema):
    items: list[TaskRow]
    # Pass as `cursor` for the next page; null on the last one.
    next_cursor: str | None


class ChecklistItemOut(Schema):
    id: int
    text: str
    required: bool
    done: bool


class HistoryEntry(Schema):
    at: datetime
    by: str
    action: str
    from_state: str | None
    to_state: str
    note: str


class CommentOut(Schema):
    id: int
    author: str
    body: str
    created_at: datetime


class TaskDetail(Schema):
    id: int
    team: str
    title: str
    description: str
    state: str
    outcome: str
    priority: int
    due_at: datetime | None
    iteration: int
    assignee: PersonRef | None
    reviewer: PersonRef | None
    required_skill: str | None
    min_level: int
    requires_review: bool
    run: int | None
    step: str | None
    # The step's outputs recorded when the task finished ({name: value}).
    outputs: dict
    # The transitions the caller may take now, by the names POST …/transitions accepts.
    actions: list[str]
    checklist: list[ChecklistItemOut]
    comments: list[CommentOut]
    history: list[HistoryEntry]


def _row(task: Task) -> dict:
    return {
        "id": task.pk,
        "title": task.title,
        "state": task.state,
        "outcome": task.outcome or "",
        "priority": task.priority,
        "due_at": task.due_at,
        "iteration": task.iteration,
        "assignee": task.assignee.username if task.assignee_id else None,
        "required_skill": task.required_skill.slug if task.required_skill_id else None,
        "min_level": task.min_level,
        "run": task.run_id,
        "step": task.step.key if task.step_id else None,
        "updated_at": task.updated_at,
    }


DETAIL_RELATED = ("assignee", "reviewer", "required_skill", "step", "run")


def task_detail_of(caller, pk: int) -> dict:
    task = access.task(caller, pk, related=DETAIL_RELATED)
    history = [
        {
            "at": log.timestamp,
            "by": log.by.display_name if log.by else "Relay",
            "action": log.transition,
            "from_state": log.source_state,
            "to_state": log.state,
            "note": log.description or "",
        }
        for log in task_selectors.task_history(task)
    ]
    comments = [
        {
            "id": c.pk,
            "author": c.author.display_name if c.author else "",
            "body": c.body,
            "created_at": c.created_at,
        }
        for c in task.comments.select_related("author").order_by("created_at", "pk")
    ]
    return {
        "id": task.pk,
        "team": task.team.slug,
        "title": task.title,
        "description": task.description,
        "state": task.state,
        "outcome": task.outcome or "",
        "priority": task.priority,
        "due_at": task.due_at,
        "iteration": task.iteration,
        "assignee": person(task.assignee),
        "reviewer": person(task.reviewer),
        "required_skill": task.required_skill.slug if task.required_skill_id else None,
        "min_level": task.min_level,
        "requires_review": task.requires_review,
        "run": task.run_id,
        "step": task.step.key if task.step_id else None,
        "actions": [a.name for a in task_selectors.available_actions(task=task, user=caller.user)],
        "outputs": task.outputs or {},
        "checklist": [
            {"id": i.pk, "text": i.text, "required": i.required, "done": i.done}
            for i in task.checklist.order_by("position", "pk")
        ],
        "comments": comments,
        "history": history,
    }


# --- the list ---------------------------------------------------------------------------------


class TaskFilters(Schema):
    """The board's filters, under the board's names (apps.boards.selectors.FiltersForm)."""

    assignee: str = Field("", max_length=150, description='A username, "me" or "none".')
    skill: str = Field("", max_length=50, description="A skill's slug.")
    due: str = Field("", max_length=10, description='"overdue" or "soon".')
    q: str = Field("", max_length=100, description="Text in the title or description.")
    run: str = Field("", max_length=20, description="A run's id.")
    template: str = Field("", max_length=80, description="A workflow template's slug.")
    state: str = Field("", max_length=20, description="One lifecycle state.")
    cursor: str = Field("", max_length=40, description="next_cursor of the previous page.")
    limit: int = Field(50, ge=1, le=MAX_PAGE)


def _cursor_of(pk: int) -> str:
    return base64.urlsafe_b64encode(f"after:{pk}".encode()).decode().rstrip("=")


def _after(cursor: str) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, pk = text.split(":")
        if prefix != "after" or not pk.isdigit() or int(pk) > access.MAX_ID:
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid(_("This cursor is not one Relay gave out: start again without it.")) from None
    return int(pk)


ROW_FIELDS = (
    *boards.LIST_FIELDS,
    "outcome",
    "run_id",
    "team_id",
    "updated_at",
    "required_skill__slug",
    "step__key",
)


@router.get(
    "teams/{slug}/tasks",
    response={200: TaskPage, **ERRORS},
    summary="The team's tasks, filtered like the board, oldest first, a page at a time",
)
def task_list(request, slug: Slug, filters: Annotated[TaskFilters, Query()]):
    caller = request.auth
    team = access.team(caller, slug)
    data = filters.dict(exclude={"cursor", "limit"})
    form = TaskListForm(data)
    if not form.is_valid():
        raise invalid(" ".join(form.problems()))
    after = _after(filters.cursor)
    tasks = boards.task_list(
        team=team,
        user=caller.user,
        filters=boards.BoardFilters.from_cleaned(form.cleaned_data),
        state=form.cleaned_data["state"],
    )
    # A cursor on the primary key: a page costs its rows whichever page it is.
    tasks = tasks.select_related("step").only(*ROW_FIELDS).order_by("pk")
    if after:
        tasks = tasks.filter(pk__gt=after)
    rows = list(tasks[: filters.limit + 1])
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    return {
        "items": [_row(t) for t in rows],
        "next_cursor": _cursor_of(rows[-1].pk) if more else None,
    }


# --- one task -----------------------------------------------------------------------------------


@router.get("tasks/{task_id}", response={200: TaskDetail, **ERRORS}, summary="One task")
def task_detail(request, task_id: Id):
    return task_detail_of(request.auth, task_id)


class TaskIn(Schema):
    title: str = Field(..., max_length=200)
    description: str = Field("", max_length=10000)
    required_skill: str | None = Field(
        None, max_length=50, pattern=SLUG_PATTERN, description="A skill's slug."
    )
    min_level: int = Field(1, ge=1, le=5)
    requires_review: bool = False
    priority: int = Field(2, ge=1, le=4)
    due_at: datetime | None = None


@router.post("teams/{slug}/tasks", response={201: TaskDetail, **ERRORS}, summary="Create a task")
def task_create(request, slug: Slug, payload: TaskIn):
    caller = request.auth
    team = access.team(caller, slug)
    skill = None
    if payload.required_skill:
        skill = Skill.objects.filter(slug=payload.required_skill).first()
        if skill is None:
            raise invalid(_("No skill '%(slug)s'.") % {"slug": payload.required_skill})
    form = TaskForm(
        {
            "title": payload.title,
            "description": payload.description,
            "required_skill": skill.pk if skill else "",
            "min_level": payload.min_level,
            "requires_review": payload.requires_review,
            "priority": payload.priority,
            "due_at": payload.due_at,
        }
    )
    if not form.is_valid():
        raise invalid(errors_sentence(form))
    task = services.create_task(team=team, by=caller.user, **form.cleaned_data)
    return Status(201, task_detail_of(caller, task.pk))


class CommentIn(Schema):
    body: str = Field(..., max_length=5000)


@router.post(
    "tasks/{task_id}/comments",
    response={201: CommentOut, **ERRORS},
    summary="Comment on a task",
)
def task_comment(request, task_id: Id, payload: CommentIn):
    caller = request.auth
    task = access.task(caller, task_id)
    form = CommentForm({"body": payload.body})
    if not form.is_valid():
        raise invalid(errors_sentence(form))
    try:
        comment: Comment = services.add_comment(
            task=task, author=caller.user, body=form.cleaned_data["body"]
        )
    except ValueError as error:
        raise invalid(str(error)) from None
    return Status(
        201,
        {
            "id": comment.pk,
            "author": caller.user.display_name,
            "body": comment.body,
            "created_at": comment.created_at,
        },
    )


class TransitionIn(Schema):
    action: str = Field(..., max_length=30, description="assign, start, submit, complete, …")
    expected_state: str = Field(
        "", max_length=20, description="The state you saw; 409 if the task moved since."
    )
    note: str = Field("", max_length=2000)
    outcome: str = Field("", max_length=30, description="For complete: done, passed or failed.")
    outputs: dict | None = Field(
        None,
        description=(
            "For complete and submit: the step's outputs as {name: value}, typed as the step "
            "declares them (a step with required outputs is refused without them)."
        ),
    )
    assignee: str = Field(
        "",
        max_length=150,
        pattern=r"^[\w.@+-]*$",
        description="For assign: a username (yourself when empty).",
    )


@router.post(
    "tasks/{task_id}/transitions",
    response={200: TaskDetail, **ERRORS},
    summary="Take a transition by name",
)
def task_transition(request, task_id: Id, payload: TransitionIn):
    caller = request.auth
    task = access.task(caller, task_id)
    if payload.action not in services.ACTIONS:
        raise invalid(
            _("Unknown action '%(action)s': one of %(names)s.")
            % {"action": payload.action, "names": ", ".join(services.ACTIONS)}
        )
    form = TransitionForm(
        {"note": payload.note, "expected_state": payload.expected_state, "outcome": payload.outcome}
    )
    if not form.is_valid():
        raise invalid(errors_sentence(form))
    extra = {}
    if payload.action == "complete" and form.cleaned_data["outcome"]:
        extra["outcome"] = form.cleaned_data["outcome"]
    if payload.outputs is not None:
        if payload.action not in ("complete", "submit"):
            raise invalid(_("Outputs are recorded with complete or submit only."))
        extra["outputs"] = payload.outputs
    if payload.action == "assign" and payload.assignee:
        assignee = User.objects.filter(
            username=payload.assignee, memberships__team_id=task.team_id
        ).first()
        if assignee is None:
            raise invalid(
                _("No one called '%(name)s' in %(team)s.")
                % {"name": payload.assignee, "team": task.team.name}
            )
        extra["assignee"] = assignee
    services.perform_retrying(
        task=task,
        action=payload.action,
        by=caller.user,
        note=caller.note(form.cleaned_data["note"]),
        expected_state=form.cleaned_data["expected_state"] or None,
        **extra,
    )
    return task_detail_of(caller, task.pk)


class TickIn(Schema):
    done: bool


@router.post(
    "tasks/{task_id}/checklist/{item_id}",
    response={200: TaskDetail, **ERRORS},
    summary="Tick or untick a checklist item",
)
def task_tick(request, task_id: Id, item_id: Id, payload: TickIn):
    caller = request.auth
    task = access.task(caller, task_id)
    item = task.checklist.filter(pk=item_id).first()
    if item is None:
        raise Http404(
            _("Task #%(task)d has no checklist item #%(item)d.")
            % {"task": task_id, "item": item_id}
        )
    services.toggle_checklist_item(item=item, by=caller.user, done=payload.done)
    return task_detail_of(caller, task.pk)
