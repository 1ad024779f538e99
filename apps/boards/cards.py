"""A card's HTML, built in Python.

A board renders up to 250 cards (and 2,500 with swimlanes); through the template engine each
card cost ~0.25 ms — variable resolution, localisation of every number and two `date` filters —
which alone was most of the page's time budget. Built here with the standard library's escape
and the translated labels looked up once per page, a card costs a few microseconds. Every value
that comes from data goes through `esc`; the markup mirrors templates/boards/board.html.
"""

from html import escape

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.tasks.models import OPEN_STATES, Task

COMMENT_ICON = (
    '<svg aria-hidden="true" width="12" height="12" viewBox="0 0 16 16"><path fill="currentColor" '
    'd="M2 2h12a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H6l-3.5 3v-3H2a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1z"/>'
    "</svg>"
)


def esc(value) -> str:
    return escape(str(value), quote=True)


class CardRenderer:
    """Renders the cards of one page: labels are translated once, not once per card."""

    def __init__(self, *, card_base: str, query: str, now=None):
        self.card_base = esc(card_base)
        self.query = esc(f"{query}&") if query else ""
        self.now = now or timezone.now()
        self.overdue_prefix = esc(_("Overdue · "))
        self.checklist = esc(_("Checklist"))
        self.unassigned = esc(_("Unassigned"))
        self.move = _("Move %(title)s")
        self.iteration = _("Loop-back: iteration %(n)d")
        self.due = _("Due %(when)s")
        self.run = _("Run: %(run)s")

    def render(self, task: Task) -> SafeString:
        overdue = bool(task.due_at and task.state in OPEN_STATES and task.due_at < self.now)
        pk = task.pk
        title = esc(task.title)
        meta = []
        if task.iteration > 1:
            meta.append(
                f'<span class="badge iter" title="{esc(self.iteration % {"n": task.iteration})}">'
                f"↻ {task.iteration}</span>"
            )
        if task.required_skill_id:
            meta.append(f'<span class="skill">{esc(task.required_skill.name)}</span>')
        if task.due_at:
            due = timezone.localtime(task.due_at)
            when = esc(self.due % {"when": due.strftime("%a %-d %b %Y, %H:%M")})
            meta.append(
                f'<span class="due{" overdue" if overdue else ""}" title="{when}">'
                f"{self.overdue_prefix if overdue else ''}{due.strftime('%-d %b')}</span>"
            )
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
        meta.append('<span class="spacer"></span>')
        if task.assignee_id:
            person = task.assignee
            meta.append(
                f'<span class="avatar sm" title="{esc(person.display_name)}">'
                f"{esc(person.initials)}</span>"
            )
        else:
            meta.append(
                f'<span class="avatar sm nobody" title="{self.unassigned}" '
                f'aria-label="{self.unassigned}">?</span>'
            )
        return mark_safe(  # every data value above and below went through esc()
            f'<li class="card-item{" is-overdue" if overdue else ""}" id="card-{pk}" '
            f'data-id="{pk}" data-state="{esc(task.state)}" tabindex="0" aria-label="{title}" '
            'aria-describedby="board-keys">'
            f'<div class="card-top"><a class="card-title" href="?{self.query}task={pk}" '
            f"data-drawer>{title}</a>"
            f'<button type="button" class="card-menu-btn" '
            f'aria-label="{esc(self.move % {"title": task.title})}" aria-haspopup="menu" '
            f'hx-get="{self.card_base}{pk}/menu/" hx-target="#menu-{pk}" hx-swap="innerHTML">⋯'
            "</button></div>"
            f"{self._run_line(task)}"
            f'<div class="card-meta">{"".join(meta)}</div>'
            f'<div class="card-menu" id="menu-{pk}"></div></li>'
        )

    def _run_line(self, task: Task) -> str:
        if not task.run_id:
            return ""
        step = f' · <span class="card-step">{esc(task.step.name)}</span>' if task.step_id else ""
        return (
            f'<div class="card-run" title="{esc(self.run % {"run": task.run.title})}">'
            f"{esc(task.run.title)}{step}</div>"
        )
