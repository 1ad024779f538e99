"""Reads for the board: which cards a person sees, in which column and lane, and how fresh.

The board's cost must not grow with the number of cards: one windowed query fetches the first
page of every cell (a column within a lane), one grouped query counts every cell, and one query
tells a poll whether anything changed. Pages beyond the first are fetched as the column scrolls.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

from django import forms
from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.http import QueryDict
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from apps.core.forms import IdField
from apps.core.reusable_sql import STAND_IN_ID, STAND_IN_TEXT, ReusableQuery
from apps.people.models import Membership, PersonVersion, Team, TeamVersion, User
from apps.tasks import selectors as task_selectors
from apps.tasks.models import ChecklistItem, Comment, State, Task, WipLimits
from apps.workflows.models import Run, WorkflowTemplate

BOARD_STATES = (State.TODO, State.ASSIGNED, State.IN_PROGRESS, State.IN_REVIEW, State.DONE)
EXTRA_STATES = (State.ON_HOLD, State.CANCELLED)
DONE_WINDOW = timedelta(days=14)
DUE_SOON = timedelta(days=3)
PAGE_SIZE = 50
# With swimlanes every lane gets its own cells; a smaller first page keeps the page light.
LANE_PAGE_SIZE = 10
LANES = {
    "none": _("No swimlanes"),
    "assignee": _("By assignee"),
    "run": _("By run"),
    "template": _("By workflow"),
}
DUE_CHOICES = {"overdue": _("Overdue"), "soon": _("Due in 3 days")}
NO_LANE = 0


class FiltersForm(forms.Form):
    """The board's filters as the URL carries them, each bounded (BoardFilters.from_query)."""

    assignee = forms.CharField(required=False, max_length=150)
    skill = forms.CharField(required=False, max_length=50)
    due = forms.ChoiceField(required=False, choices=DUE_CHOICES.items())
    q = forms.CharField(required=False, max_length=100)
    run = IdField(required=False)
    template = forms.CharField(required=False, max_length=80)
    lane = forms.ChoiceField(required=False, choices=LANES.items())
    show = forms.MultipleChoiceField(required=False, choices=[(s, s) for s in EXTRA_STATES])


@dataclass(frozen=True)
class BoardFilters:
    """What the person asked to see, parsed from (and written back to) the URL."""

    assignee: str = ""  # a username, "me" or "none"
    skill: str = ""
    due: str = ""
    q: str = ""
    run: str = ""  # a run id
    template: str = ""  # a workflow template slug (all its versions)
    lane: str = "none"
    show: tuple[str, ...] = ()

    @classmethod
    def from_query(cls, query: QueryDict) -> "BoardFilters":
        """A filter whose value is not valid (a 30-digit run id, an unknown lane) is left unset:
        the board shows without it rather than a parameter reaching SQL unchecked."""
        if not any(name in query for name in FiltersForm.base_fields):
            return cls()  # no filter asked for (every poll of a plain board): no form to build
        form = FiltersForm(query)
        form.is_valid()
        return cls.from_cleaned(form.cleaned_data)

    @classmethod
    def from_cleaned(cls, data: dict) -> "BoardFilters":
        """From a validated FiltersForm's (or a form built on it) cleaned data."""
        return cls(
            assignee=data.get("assignee", ""),
            skill=data.get("skill", ""),
            due=data.get("due", ""),
            q=data.get("q", ""),
            run=str(data["run"]) if data.get("run") else "",
            template=data.get("template", ""),
            lane=data.get("lane") or "none",
            show=tuple(s for s in EXTRA_STATES if s in data.get("show", ())),
        )

    @property
    def states(self) -> tuple[str, ...]:
        return BOARD_STATES + self.show

    @property
    def page_size(self) -> int:
        return PAGE_SIZE if self.lane == "none" else LANE_PAGE_SIZE

    @property
    def is_filtered(self) -> bool:
        return bool(self.assignee or self.skill or self.due or self.q or self.run or self.template)

    def query_string(self) -> str:
        pairs = [
            (k, v)
            for k, v in (
                ("assignee", self.assignee),
                ("skill", self.skill),
                ("due", self.due),
                ("q", self.q),
                ("run", self.run),
                ("template", self.template),
                ("lane", "" if self.lane == "none" else self.lane),
            )
            if v
        ]
        pairs += [("show", s) for s in self.show]
        return urlencode(pairs)

    def lookups(self, *, user: User, now) -> Q:
        condition = Q()
        if self.assignee == "me":
            condition &= Q(assignee=user)
        elif self.assignee == "none":
            condition &= Q(assignee__isnull=True)
        elif self.assignee:
            condition &= Q(assignee__username=self.assignee)
        if self.skill:
            condition &= Q(required_skill__slug=self.skill)
        if self.due == "overdue":
            condition &= Q(due_at__lt=now)
        elif self.due == "soon":
            condition &= Q(due_at__gte=now, due_at__lt=now + DUE_SOON)
        if self.q:
            condition &= Q(title__icontains=self.q) | Q(description__icontains=self.q)
        if self.run:
            condition &= Q(run_id=int(self.run))
        if self.template:
            condition &= Q(run__template__slug=self.template)
        return condition


@dataclass
class Cell:
    lane: int
    state: str
    cards: list = field(default_factory=list)
    count: int = 0
    page_size: int = PAGE_SIZE
    label: str = ""  # "To do", or "To do · Ada Lovelace" in a swimlane

    @property
    def dom_id(self) -> str:
        return f"cell-{self.lane}-{self.state}"

    @property
    def more(self) -> bool:
        return self.count > len(self.cards)

    @property
    def signature(self) -> str:
        """Changes whenever anything a card in this cell shows changes (for live refresh)."""
        parts = [str(self.count)] + [
            f"{c.pk}:{c.updated_at.timestamp()}:{c.comment_count}:{c.checklist_done}"
            for c in self.cards
        ]
        return hashlib.md5("|".join(parts).encode(), usedforsecurity=False).hexdigest()[:12]


@dataclass
class Column:
    state: str
    label: str
    shown: int = 0
    total: int = 0
    limit: int | None = None

    @property
    def over_limit(self) -> bool:
        return self.limit is not None and self.total > self.limit

    @property
    def at_limit(self) -> bool:
        return self.limit is not None and self.total >= self.limit

    @property
    def signature(self) -> str:
        return f"{self.shown}-{self.total}-{self.limit}"


@dataclass
class Lane:
    key: int
    label: str
    initials: str = ""


@dataclass
class Board:
    team: Team
    filters: BoardFilters
    columns: list[Column]
    lanes: list[Lane]
    cells: dict[tuple[int, str], Cell]

    @property
    def rows(self) -> list[tuple[Lane, list[Cell]]]:
        return [
            (lane, [self.cells[(lane.key, c.state)] for c in self.columns]) for lane in self.lanes
        ]


LANE_FIELDS = {"assignee": "assignee_id", "run": "run_id", "template": "run__template_id"}


def _lane_expression(filters: BoardFilters):
    field = LANE_FIELDS.get(filters.lane)
    if field is None:
        return Value(NO_LANE, output_field=IntegerField())
    return Coalesce(F(field), Value(NO_LANE), output_field=IntegerField())


def _team_scope(*, team: Team, states, now) -> QuerySet[Task]:
    """The team's tasks in these columns; Done only for the last two weeks."""
    return Task.objects.filter(team=team, state__in=states).filter(
        ~Q(state=State.DONE) | Q(finished_at__gte=now - DONE_WINDOW)
    )


# What a card (apps/boards/cards.py) and the board's placing of it read: loading only these
# spares converting the rest of five rows' columns per card (dates, the people's account
# fields, a step's JSON).
CARD_FIELDS = (
    "team_id",
    "title",
    "state",
    "iteration",
    "due_at",
    "position",
    "priority",
    "updated_at",
    "run_id",
    "step_id",
    "required_skill__name",
    "assignee__username",
    "assignee__first_name",
    "assignee__last_name",
    "run__title",
    "step__name",
    "step__kind",
    "step__system",
    "step__subworkflow",
    "escalation",
    "escalated_at",
)


def _with_card_facts(tasks: QuerySet[Task]) -> QuerySet[Task]:
    """What a board card shows, and only that (CARD_FIELDS)."""
    return _with_card_counts(
        tasks.select_related("assignee", "required_skill", "run", "step").only(*CARD_FIELDS)
    )


def _with_card_counts(tasks: QuerySet[Task]) -> QuerySet[Task]:
    """What a card shows beyond the task row: counted by correlated subqueries so the cost
    follows the cards on the page, not the team's whole history."""

    def counted(model, **extra):
        return Coalesce(
            Subquery(
                model.objects.filter(task=OuterRef("pk"), **extra)
                .order_by()
                .values("task")
                .annotate(n=Count("pk"))
                .values("n")
            ),
            0,
        )

    return tasks.annotate(
        comment_count=counted(Comment),
        checklist_total=counted(ChecklistItem),
        checklist_done=counted(ChecklistItem, done=True),
    )


def _ranked_cells(*, scope: QuerySet[Task], lane, size: int) -> list[tuple[int, int, int, int]]:
    """(pk, lane, rank, cards in its cell) of the first `size` cards of every cell."""
    return list(
        scope.annotate(
            lane=lane,
            rank=Window(RowNumber(), partition_by=[lane, F("state")], order_by=CARD_ORDER),
            # Cards in the card's cell: unfiltered, this is also the column count, which saves
            # the grouped count query.
            in_cell=Window(Count("pk"), partition_by=[lane, F("state")]),
        )
        .filter(rank__lte=size)
        # Unordered: the ranks say where each card goes (the model's default ordering made
        # the database sort the cells twice more).
        .order_by()
        .values_list("pk", "lane", "rank", "in_cell")
    )


def _column_tops(*, team: Team, states, now, size: int) -> list[tuple[int, int, int, int]]:
    """What _ranked_cells gives for an unfiltered board without swimlanes, in one statement:
    each column's first `size` cards straight off the (team, state, position) index and its
    count, instead of ranking every card of the shown columns (for a move's two 1,000-card
    columns, most of the board's query time)."""
    qn = connection.ops.quote_name
    table = qn(Task._meta.db_table)
    pk, team_col, state_col = qn("id"), qn("team_id"), qn("state")
    position, priority, finished = qn("position"), qn("priority"), qn("finished_at")
    cutoff = connection.ops.adapt_datetimefield_value(now - DONE_WINDOW)
    parts, params = [], []
    for n, state in enumerate(states):
        # Done shows the last two weeks only (as _team_scope).
        recent = f" AND {{t}}.{finished} >= %s" if state == State.DONE else ""
        where = [team.pk, state, *([cutoff] if recent else [])]
        parts.append(
            f"SELECT c{n}.{pk}, %s, ROW_NUMBER() OVER (ORDER BY c{n}.{position}, "
            f"c{n}.{priority} DESC, c{n}.{pk}), "
            f"(SELECT COUNT(*) FROM {table} k{n} WHERE k{n}.{team_col} = %s "
            f"AND k{n}.{state_col} = %s{recent.format(t=f'k{n}')}) "
            f"FROM (SELECT t{n}.{pk}, t{n}.{position}, t{n}.{priority} FROM {table} t{n} "
            f"WHERE t{n}.{team_col} = %s AND t{n}.{state_col} = %s{recent.format(t=f't{n}')} "
            f"ORDER BY t{n}.{position}, t{n}.{priority} DESC, t{n}.{pk} LIMIT %s) c{n}"
        )
        params += [NO_LANE, *where, *where, size]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return [tuple(row) for row in cursor.fetchall()]


CARD_ORDER = (F("position").asc(), F("priority").desc(), F("id").asc())


def board(
    *,
    team: Team,
    user: User,
    filters: BoardFilters,
    limits: dict | None = None,
    states: tuple[str, ...] | None = None,
) -> Board:
    """The board, or only some of its columns (after a move, only the affected ones)."""
    now = timezone.now()
    limits = limits or {}
    shown_states = states or filters.states
    lane = _lane_expression(filters)
    matches = filters.lookups(user=user, now=now)
    scope = _team_scope(team=team, states=shown_states, now=now)

    # Which cards open each cell: ranks and cell sizes over the team's tasks, ids only…
    if not filters.is_filtered and filters.lane == "none":
        placed = _column_tops(team=team, states=shown_states, now=now, size=filters.page_size)
    else:
        placed = _ranked_cells(scope=scope.filter(matches), lane=lane, size=filters.page_size)
    # …then everything the card shows, for those cards only.
    lane_of = {pk: (lane_key, rank, in_cell) for pk, lane_key, rank, in_cell in placed}
    windowed = list(_with_card_facts(Task.objects.filter(pk__in=lane_of)).order_by(*CARD_ORDER))
    # A card moved by someone else between the two queries now belongs to a column this
    # board may not show (only the affected ones after a move): the next poll places it.
    windowed = [task for task in windowed if task.state in shown_states]
    for task in windowed:
        task.lane, task.rank, task.in_cell = lane_of[task.pk]
    if filters.is_filtered:
        # WIP counts are about the whole team's column, not the filtered part of it.
        counts = list(
            scope.annotate(lane=lane)
            .values("lane", "state")
            .annotate(shown=Count("pk", filter=matches), total=Count("pk"))
            .order_by()
        )
    else:
        counts = [
            {"lane": t.lane, "state": t.state, "shown": t.in_cell, "total": t.in_cell}
            for t in windowed
            if t.rank == 1
        ]

    columns = {
        s: Column(state=s, label=str(State(s).label), limit=limits.get(s)) for s in shown_states
    }
    lane_keys: set[int] = set()
    cell_counts: dict[tuple[int, str], int] = {}
    for row in counts:
        column = columns[row["state"]]
        column.total += row["total"]
        column.shown += row["shown"]
        if row["shown"]:
            lane_keys.add(row["lane"])
            cell_counts[(row["lane"], row["state"])] = row["shown"]

    lanes = _lanes(team=team, filters=filters, keys=lane_keys)
    cells = {
        (ln.key, s): Cell(
            lane=ln.key,
            state=s,
            count=cell_counts.get((ln.key, s), 0),
            page_size=filters.page_size,
            label=f"{columns[s].label} · {ln.label}" if ln.label else columns[s].label,
        )
        for ln in lanes
        for s in shown_states
    }
    for task in windowed:
        cell = cells.get((task.lane, task.state))
        if cell is not None:
            cell.cards.append(task)
    return Board(
        team=team, filters=filters, columns=list(columns.values()), lanes=lanes, cells=cells
    )


def moved_card(
    *, team: Team, pk: int, states: tuple[str, ...], limits: dict | None = None
) -> tuple[Task | None, list[Column]]:
    """A card just dropped on a plain board (no filter, no swimlanes) and the heads of the
    columns it left and joined, in one query: the page already shows the card where it was
    dropped, so only the card itself and the counts change (re-rendering both columns was
    two thirds of a move). None for the card if it is no longer on the board."""
    now = timezone.now()
    limits = limits or {}
    totals = {
        f"total_{state}": Coalesce(
            Subquery(
                _team_scope(team=team, states=(state,), now=now)
                .order_by()
                .values("team")
                .annotate(n=Count("pk"))
                .values("n")
            ),
            0,
        )
        for state in states
    }
    card = _with_card_facts(Task.objects.filter(pk=pk, team=team)).annotate(**totals).first()
    if card is None:
        return None, []
    columns = [Column(state=s, label=str(State(s).label), limit=limits.get(s)) for s in states]
    for column in columns:
        column.total = column.shown = getattr(card, f"total_{column.state}")
    return card, columns


def _lanes(*, team: Team, filters: BoardFilters, keys: set[int]) -> list[Lane]:
    """The lanes that have cards: the "none" lane (unassigned, no run…) first, then by name."""
    if filters.lane == "none":
        return [Lane(key=NO_LANE, label="")]
    ids = keys - {NO_LANE}
    if filters.lane == "assignee":
        named = [
            Lane(key=u.pk, label=u.display_name, initials=u.initials)
            for u in User.objects.filter(pk__in=ids)
        ]
        nobody = _("Unassigned")
    elif filters.lane == "run":
        named = [
            Lane(key=r.pk, label=f"{r.title} · {r.template.name}")
            for r in Run.objects.filter(pk__in=ids).select_related("template")
        ]
        nobody = _("Not in a run")
    else:
        named = [
            Lane(key=t.pk, label=t.name if t.version == 1 else f"{t.name} (v{t.version})")
            for t in WorkflowTemplate.objects.filter(pk__in=ids)
        ]
        nobody = _("Not in a workflow")
    lanes = [Lane(key=NO_LANE, label=str(nobody))] if NO_LANE in keys else []
    lanes += sorted(named, key=lambda lane: lane.label.lower())
    return lanes or [Lane(key=NO_LANE, label=str(_("Nothing matches")))]


def more_cards(
    *, team: Team, user: User, filters: BoardFilters, state: str, lane: int, offset: int
) -> tuple[list[Task], bool]:
    """The next page of one cell (a column within a lane), and whether more follow it."""
    now = timezone.now()
    tasks = (
        _with_card_facts(
            _team_scope(team=team, states=[state], now=now).filter(
                filters.lookups(user=user, now=now)
            )
        )
        .annotate(lane=_lane_expression(filters))
        .filter(lane=lane)
        .order_by(*CARD_ORDER)[offset : offset + filters.page_size + 1]
    )
    page = list(tasks)
    return page[: filters.page_size], len(page) > filters.page_size


# What a board's version is made of (annotations of _versioned_teams), in this order.
VERSION_FIELDS = ("v_team", "v_person", "v_teams")


def _versioned_teams(*, user: User, is_staff: bool, team_slug: str) -> QuerySet[Team]:
    """The team (if this person may see it) annotated with the version counters of everything
    its board page shows this person (apps.people.versions): the team's own, the person's (My
    work, the inbox), and the sum of the counters of the person's teams (tasks of other teams
    move the review count too). Counters only go up, and joining or leaving a team bumps the
    person's, so (person, sum) changes whenever any of them does."""
    teams = Team.objects.filter(slug=team_slug).order_by()
    if not is_staff:
        teams = teams.filter(Exists(Membership.objects.filter(team=OuterRef("pk"), user=user)))
    return teams.annotate(
        viewer_role=Subquery(
            Membership.objects.filter(team=OuterRef("pk"), user=user).order_by().values("role")[:1]
        ),
        v_team=F("version__n"),
        v_person=Subquery(PersonVersion.objects.filter(user=user).values("n")[:1]),
        v_teams=Subquery(
            TeamVersion.objects.filter(
                team_id__in=Membership.objects.filter(user=user).values("team_id")
            )
            .order_by()
            .values(total=Func(F("n"), function="SUM", output_field=IntegerField()))
        ),
    )


TEAM_FIELDS = ("id", "name", "slug", "description")


def _team_query(is_staff: bool) -> ReusableQuery:
    return ReusableQuery(
        lambda user, team_slug: _versioned_teams(
            user=User(pk=user, is_staff=is_staff), is_staff=is_staff, team_slug=team_slug
        ).values_list(*TEAM_FIELDS, "viewer_role", *VERSION_FIELDS)[:1],
        user=STAND_IN_ID,
        team_slug=STAND_IN_TEXT,
    )


# Every board request's first query, built by the ORM once per process (building this
# queryset cost more Python than a cached board's whole render).
_TEAM_QUERIES = {False: _team_query(False), True: _team_query(True)}


def team_with_version(*, user: User, team_slug: str) -> Team | None:
    """The team (if this person may see it) with the viewer's role and its version
    (version_of), in one query. Unchanged version = unchanged board page. Its WIP limits are
    read when asked for (settings_of)."""
    rows = _TEAM_QUERIES[bool(user.is_staff)].rows(user=user.pk, team_slug=team_slug)
    if not rows:
        return None
    row = rows[0]
    team = Team(**dict(zip(TEAM_FIELDS, row, strict=False)))
    team._state.adding, team._state.db = False, "default"
    team.viewer_role = row[len(TEAM_FIELDS)]
    for name, value in zip(VERSION_FIELDS, row[len(TEAM_FIELDS) + 1 :], strict=True):
        setattr(team, name, value)
    return team


def settings_of(team: Team) -> WipLimits | None:
    """The team's WIP limits (None = no limits): selected with it, or read now."""
    try:
        return team.wip_limits
    except WipLimits.DoesNotExist:
        return None


def version_of(team: Team) -> str:
    return "|".join(str(getattr(team, name)) for name in VERSION_FIELDS)


def _version_query(is_staff: bool) -> ReusableQuery:
    return ReusableQuery(
        lambda user, team_slug: _versioned_teams(
            user=User(pk=user, is_staff=is_staff), is_staff=is_staff, team_slug=team_slug
        ).values_list(*VERSION_FIELDS)[:1],
        user=STAND_IN_ID,
        team_slug=STAND_IN_TEXT,
    )


# The poll's one query, built by the ORM once per process (apps.core.reusable_sql): building
# it costs the ORM milliseconds of Python, the database answers it from three primary keys.
_VERSION_QUERIES = {False: _version_query(False), True: _version_query(True)}


def board_version(*, user: User, team_slug: str) -> str | None:
    """version_of(team_with_version(...)) without building a queryset: None when this
    person may not see the team."""
    rows = _VERSION_QUERIES[bool(user.is_staff)].rows(user=user.pk, team_slug=team_slug)
    return "|".join(str(value) for value in rows[0]) if rows else None


def etag_for(*, version: str, user: User, filters: BoardFilters, now=None) -> str:
    """The board as this person sees it: data version, viewer, filters, and the five-minute
    window (overdue marks and the 14-day Done window move with the clock)."""
    now = now or timezone.now()
    bucket = int(now.timestamp() // 300)
    raw = f"{version}|{user.pk}|{filters.query_string()}|{bucket}"
    return '"' + hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest() + '"'


# --- my work and reviews: the queries are the tasks app's, the cards the board's -----------


def _queue_cards(tasks: QuerySet[Task]) -> QuerySet[Task]:
    """What a queue row shows: the card (apps.boards.cards.QueueCardRenderer), its team, and
    the step whose outcomes its actions offer."""
    return _with_card_counts(
        tasks.select_related("team", "required_skill", "assignee", "run", "step")
    )


def my_work(*, user: User) -> QuerySet[Task]:
    """The My work page: apps.tasks.selectors.my_work as cards."""
    return _queue_cards(task_selectors.my_work(user=user))


def awaiting_my_review(*, user: User) -> QuerySet[Task]:
    """The Awaiting my review page: apps.tasks.selectors.awaiting_my_review as cards."""
    return _queue_cards(task_selectors.awaiting_my_review(user=user))


def queue_row(*, user: User, pk: int) -> Task:
    """One task as a queue row shows it (after an action taken from the row)."""
    return _queue_cards(task_selectors.visible_tasks(user)).get(pk=pk)


# --- the team task list: the board's filters, every state, one page at a time ---------------

# The list's orders (TaskListForm.sort); each ends on the primary key, so a page is stable.
LIST_ORDERS = {
    "": (Task.lifecycle_rank(), "position", "-priority", "id"),
    "due": (F("due_at").asc(nulls_last=True), "-priority", "id"),
    "priority": ("-priority", F("due_at").asc(nulls_last=True), "id"),
    "updated": ("-updated_at", "-id"),
    "title": ("title", "id"),
}
# What a row of the list shows, and only that.
LIST_FIELDS = (
    "title",
    "state",
    "iteration",
    "due_at",
    "priority",
    "min_level",
    "required_skill__name",
    "assignee__username",
    "assignee__first_name",
    "assignee__last_name",
)


def task_list(
    *, team: Team, user: User, filters: BoardFilters, state: str = "", sort: str = ""
) -> QuerySet[Task]:
    """The team's tasks in every state (Done of any age), filtered like the board, in the
    asked order. Counted without the row facts (Paginator's count drops unused annotations);
    the rows' comment and checklist counts are correlated subqueries, so a page costs its 50
    rows, not the team's history."""
    tasks = Task.objects.filter(team=team).filter(filters.lookups(user=user, now=timezone.now()))
    if state:
        tasks = tasks.filter(state=state)
    return _with_card_counts(
        tasks.select_related("assignee", "required_skill")
        .only(*LIST_FIELDS)
        .order_by(*LIST_ORDERS[sort])
    )
