"""A card's HTML, built in Python.

A board renders up to 250 cards (and 2,500 with swimlanes); through the template engine each
card cost ~0.25 ms — variable resolution, localisation of every number and two `date` filters —
which alone was most of the page's time budget. Built here with the standard library's escape
and the translated labels looked up once per page, a card costs a few microseconds. Every value
that comes from data goes through `esc`. The queue pages show the same cards
(QueueCardRenderer), so this is the one place a card's markup is written.
"""

from html import escape

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.tasks.models import (
    EXTERNAL_STEP_KIND,
    OPEN_STATES,
    SUBWORKFLOW_STEP_KIND,
    UNFINISHED_STATES,
    EscalationStatus,
    Priority,
    State,
    Task,
)

# A card's priority badge: an arrow and the word, so it never rests on colour alone. Normal
# priority, most cards, shows none (a badge on every card would say nothing).
PRIORITY_MARKS = {Priority.LOW: "↓", Priority.HIGH: "↑", Priority.URGENT: "⇈"}

COMMENT_ICON = (
    '<svg aria-hidden="true" width="12" height="12" viewBox="0 0 16 16"><path fill="currentColor" '
    'd="M2 2h12a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H6l-3.5 3v-3H2a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1z"/>'
    "</svg>"
)


def esc(value) -> str:
    return escape(str(value), quote=True)


class CardRenderer:
    """Renders the cards of one board page: labels are translated once, not once per card."""

    def __init__(self, *, card_base: str, query: str, now=None):
        self.card_base = esc(card_base)
        self.query = esc(f"{query}&") if query else ""
        self.now = now or timezone.now()
        self.overdue_prefix = esc(_("Overdue · "))
        self.checklist = esc(_("Checklist"))
        self.unassigned = esc(_("Unassigned"))
        self.waiting_for = _("Waiting for %(system)s")
        self.waiting_for_subflow = esc(_("Waiting for its sub-workflow"))
        self.subflow_title = _("Runs the workflow “%(slug)s” and finishes when that run ends")
        self.move = _("Move %(title)s")
        self.iteration = _("Loop-back: iteration %(n)d")
        self.due = _("Due %(when)s")
        self.run = _("Run: %(run)s")
        self.escalated_title = _("The step's SLA ran out; escalated %(when)s: %(what)s")
        self.escalations = {
            value: esc(_("Escalated: %(what)s") % {"what": label})
            for value, label in EscalationStatus.choices
        }
        priority = _("Priority: %(p)s")
        self.priorities = {
            value: (
                f'<span class="badge prio prio-{value}" title="{esc(priority % {"p": label})}">'
                f"{PRIORITY_MARKS[value]} {esc(label)}</span>"
            )
            for value, label in Priority.choices
            if value in PRIORITY_MARKS
        }

    def render(self, task: Task, *, oob: bool = False) -> SafeString:
        """The card; `oob`: as an out-of-band swap replacing the card of that id where the page
        has it (a dropped card after its move)."""
        overdue = bool(task.due_at and task.state in OPEN_STATES and task.due_at < self.now)
        title = esc(task.title)
        meta = self._place(task)
        if task.priority in self.priorities:
            meta.append(self.priorities[task.priority])
        if task.iteration > 1:
            meta.append(
                f'<span class="badge iter" title="{esc(self.iteration % {"n": task.iteration})}">'
                f"↻ {task.iteration}</span>"
            )
        if task.escalation and task.state in UNFINISHED_STATES:
            meta.append(self._escalated(task))
        if task.required_skill_id:
            meta.append(f'<span class="skill">{esc(task.required_skill.name)}</span>')
        meta.append(self._due(task, overdue))
        total = getattr(task, "checklist_total", 0)
        if total:
            done = task.checklist_done
            meta.append(
                f'<span class="check-progress{" complete" if done == total else ""}" '
                f'title="{self.checklist}">☑ {done}/{total}</span>'
            )
        comments = getattr(task, "comment_count", 0)
        if comments:
            label = ngettext("%(n)d comment", "%(n)d comments", comments) % {"n": comments}
            meta.append(
                f'<span class="comments-count" title="{esc(label)}">{COMMENT_ICON} {comments}'
                "</span>"
            )
        meta.append(self._person(task))
        body = (
            f"{self._top(task, title)}{self._run_line(task)}"
            f'<div class="card-meta">{"".join(meta)}</div>'
        )
        frame = self._frame(task, title, overdue, body, oob=oob)
        return mark_safe(frame)  # data went through esc()

    def _frame(self, task: Task, title: str, overdue: bool, body: str, *, oob: bool) -> str:
        """On the board a card is a list item of its cell: dragged, moved by keyboard or menu."""
        pk = task.pk
        swap = ' hx-swap-oob="true"' if oob else ""
        return (
            f'<li class="card-item{" is-overdue" if overdue else ""}" id="card-{pk}"{swap} '
            f'data-id="{pk}" data-state="{esc(task.state)}" tabindex="0" aria-label="{title}" '
            f'aria-describedby="board-keys">{body}<div class="card-menu" id="menu-{pk}"></div></li>'
        )

    def _top(self, task: Task, title: str) -> str:
        pk = task.pk
        return (
            f'<div class="card-top"><a class="card-title" href="?{self.query}task={pk}" '
            f"data-drawer>{title}</a>"
            f'<button type="button" class="card-menu-btn" '
            f'aria-label="{esc(self.move % {"title": task.title})}" aria-haspopup="menu" '
            f'hx-get="{self.card_base}{pk}/menu/" hx-target="#menu-{pk}" hx-swap="innerHTML">⋯'
            "</button></div>"
        )

    def _place(self, task: Task) -> list[str]:
        """Where the card is, when its column and page don't say it: nothing on the board."""
        return []

    def _person(self, task: Task) -> str:
        if (
            task.step_id
            and task.step.kind == EXTERNAL_STEP_KIND
            and task.state == State.IN_PROGRESS
        ):
            # Held by Relay automation until the outside system reports: nobody's work.
            waiting = esc(self.waiting_for % {"system": task.step.system or _("a system")})
            return (
                f'<span class="spacer"></span><span class="waiting-for" '
                f'data-testid="waiting-for">{waiting}</span>'
            )
        if (
            task.step_id
            and task.step.kind == SUBWORKFLOW_STEP_KIND
            and task.state == State.IN_PROGRESS
        ):
            # Held by Relay automation until the child run ends: nobody's work either.
            title = esc(self.subflow_title % {"slug": task.step.subworkflow})
            return (
                f'<span class="spacer"></span><span class="waiting-for" title="{title}" '
                f'data-testid="waiting-for">{self.waiting_for_subflow}</span>'
            )
        if not task.assignee_id:
            return (
                f'<span class="spacer"></span><span class="avatar sm nobody" '
                f'title="{self.unassigned}" aria-label="{self.unassigned}">?</span>'
            )
        person = task.assignee
        return (
            f'<span class="spacer"></span><span class="avatar sm" '
            f'title="{esc(person.display_name)}">{esc(person.initials)}</span>'
        )

    def _escalated(self, task: Task) -> str:
        """A word badge (never colour alone): how far the step's SLA escalation has got."""
        when = timezone.localtime(task.escalated_at).strftime("%a %-d %b, %H:%M")
        what = EscalationStatus(task.escalation).label
        title = esc(self.escalated_title % {"when": when, "what": what})
        return (
            f'<span class="badge escalated" title="{title}" data-testid="escalated">'
            f"⚑ {self.escalations[task.escalation]}</span>"
        )

    def _due(self, task: Task, overdue: bool) -> str:
        if not task.due_at:
            return ""
        due = timezone.localtime(task.due_at)
        when = esc(self.due % {"when": due.strftime("%a %-d %b %Y, %H:%M")})
        return (
            f'<span class="due{" overdue" if overdue else ""}" title="{when}">'
            f"{self.overdue_prefix if overdue else ''}{due.strftime('%-d %b')}</span>"
        )

    def _run_line(self, task: Task) -> str:
        if not task.run_id:
            return ""
        step = f' · <span class="card-step">{esc(task.step.name)}</span>' if task.step_id else ""
        return (
            f'<div class="card-run" title="{esc(self.run % {"run": task.run.title})}">'
            f"{esc(task.run.title)}{step}</div>"
        )


class QueueCardRenderer(CardRenderer):
    """The same cards on the queue pages (my work, awaiting my review), where no column or
    board is around them: a card says its state and team, whose work it is when that is
    someone else's, and when it is due to the minute (the queue is sorted by it), and it opens
    in its team's board. The page puts it in a row with the actions it offers there."""

    def __init__(self, *, viewer, now=None):
        super().__init__(card_base="", query="", now=now)
        self.viewer_id = viewer.pk
        self.states = {value: esc(label) for value, label in State.choices}
        self.by = _("by %(name)s")
        self.no_due = esc(_("no due date"))
        self.due_short = _("due %(when)s")
        self.boards: dict[int, str] = {}

    def _frame(self, task: Task, title: str, overdue: bool, body: str, *, oob: bool) -> str:
        return (
            f'<div class="card-item queue-card{" is-overdue" if overdue else ""}" '
            f'id="card-{task.pk}" data-id="{task.pk}" data-state="{esc(task.state)}">{body}</div>'
        )

    def _top(self, task: Task, title: str) -> str:
        board = self.boards.get(task.team_id)
        if board is None:
            board = self.boards[task.team_id] = esc(reverse("boards:board", args=[task.team.slug]))
        return (
            f'<div class="card-top"><a class="card-title" href="{board}?task={task.pk}">'
            f"{title}</a></div>"
        )

    def _place(self, task: Task) -> list[str]:
        return [
            f'<span class="state state-{esc(task.state)}">{self.states.get(task.state, "")}</span>',
            f'<span class="muted">{esc(task.team.name)}</span>',
        ]

    def _person(self, task: Task) -> str:
        if not task.assignee_id or task.assignee_id == self.viewer_id:
            return ""
        return f"<span>{esc(self.by % {'name': task.assignee.display_name})}</span>"

    def _due(self, task: Task, overdue: bool) -> str:
        if not task.due_at:
            return f'<span class="due">{self.no_due}</span>'
        when = timezone.localtime(task.due_at).strftime("%a %-d %b, %H:%M")
        return (
            f'<span class="due{" overdue" if overdue else ""}">'
            f"{self.overdue_prefix if overdue else ''}{esc(self.due_short % {'when': when})}</span>"
        )
