"""A card's HTML, built in Python.

A board renders up to 250 cards (and 2,500 with swimlanes); through the template engine each
card cost ~0.25 ms — variable resolution, localisation of every number and two `date` filters —
which alone was most of the page's time budget. The same markup built with format_html costs a
tenth of that. Everything is escaped by format_html; the markup mirrors the other partials in
templates/boards/board.html.
"""

from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.tasks.models import Task

COMMENT_ICON = mark_safe(  # a fixed SVG, no user data
    '<svg aria-hidden="true" width="12" height="12" viewBox="0 0 16 16"><path fill="currentColor" '
    'd="M2 2h12a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H6l-3.5 3v-3H2a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1z"/>'
    "</svg>"
)


def render_card(task: Task, *, card_base: str, query: str, now=None) -> SafeString:
    now = now or timezone.now()
    overdue = bool(task.due_at and task.is_open and task.due_at < now)
    meta = []
    if task.iteration > 1:
        meta.append(
            format_html(
                '<span class="badge iter" title="{}">↻ {}</span>',
                _("Loop-back: iteration %(n)d") % {"n": task.iteration},
                task.iteration,
            )
        )
    if task.required_skill_id:
        meta.append(format_html('<span class="skill">{}</span>', task.required_skill.name))
    if task.due_at:
        due = timezone.localtime(task.due_at)
        meta.append(
            format_html(
                '<span class="due{}" title="{}">{}{}</span>',
                " overdue" if overdue else "",
                _("Due %(when)s") % {"when": due.strftime("%a %-d %b %Y, %H:%M")},
                _("Overdue · ") if overdue else "",
                due.strftime("%-d %b"),
            )
        )
    total = getattr(task, "checklist_total", 0)
    if total:
        done = task.checklist_done
        meta.append(
            format_html(
                '<span class="check-progress{}" title="{}">☑ {}/{}</span>',
                " complete" if done == total else "",
                _("Checklist"),
                done,
                total,
            )
        )
    comments = getattr(task, "comment_count", 0)
    if comments:
        meta.append(
            format_html(
                '<span class="comments-count" title="{}">{} {}</span>',
                ngettext("%(n)d comment", "%(n)d comments", comments) % {"n": comments},
                COMMENT_ICON,
                comments,
            )
        )
    meta.append(mark_safe('<span class="spacer"></span>'))
    if task.assignee_id:
        meta.append(
            format_html(
                '<span class="avatar sm" title="{}">{}</span>',
                task.assignee.display_name,
                task.assignee.initials,
            )
        )
    else:
        meta.append(
            format_html(
                '<span class="avatar sm nobody" title="{0}" aria-label="{0}">?</span>',
                _("Unassigned"),
            )
        )
    return format_html(
        '<li class="card-item{overdue}" id="card-{pk}" data-id="{pk}" data-state="{state}" '
        'tabindex="0" aria-label="{title}">'
        '<div class="card-top">'
        '<a class="card-title" href="?{query}task={pk}" data-drawer>{title}</a>'
        '<button type="button" class="card-menu-btn" aria-label="{move}" aria-haspopup="menu" '
        'hx-get="{base}{pk}/menu/" hx-target="#menu-{pk}" hx-swap="innerHTML">⋯</button></div>'
        "{run}"
        '<div class="card-meta">{meta}</div>'
        '<div class="card-menu" id="menu-{pk}"></div></li>',
        overdue=" is-overdue" if overdue else "",
        pk=task.pk,
        state=task.state,
        title=task.title,
        query=f"{query}&" if query else "",
        move=_("Move %(title)s") % {"title": task.title},
        base=card_base,
        run=_run_line(task),
        meta=mark_safe("".join(meta)),  # each piece was built by format_html above
    )


def _run_line(task: Task) -> SafeString:
    if not task.run_id:
        return mark_safe("")
    step = task.step.name if task.step_id else ""
    return format_html(
        '<div class="card-run" title="{}">{}{}</div>',
        _("Run: %(run)s") % {"run": task.run.title},
        task.run.title,
        format_html(' · <span class="card-step">{}</span>', step) if step else "",
    )
