"""SLA escalation: what Relay does when a step's task outlives its SLA (Step.escalation).

A step escalates in up to three stages, each once and in order: **remind** the assignee (the
team's leads when nobody has it) when the SLA runs out; **alert the leads** one gap
(Step.escalate_every_hours) later; **re-assign** to the next eligible person one gap after
that (the assignment engine's own candidates: skill, availability, four-eyes, capacity; a task
somebody has started is not taken from them, and nobody eligible leaves it where it is, said
in the log and to the leads). A stage comes a gap after the previous one *happened*, so a task
resumed after a long hold does not fire every overdue stage at once; moving the due date later
postpones the next stage to it.

Held tasks (on hold) wait; finished and cancelled ones never escalate. Each stage is one
`tasks.Escalation` row, unique per (task, stage), written in the same transaction as its
notices, its re-assignment and the task's `escalation` columns (the card's badge), under the
task's row lock: a beat that runs twice, or two beats at the same moment, escalate each stage
once and notify once (the unique row is the database's final word).

The remind stage *is* the overdue reminder (apps.tasks.reminders): it is written under that
day's overdue key, so the assignee gets one "Overdue" notice that day, whichever job runs first.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.assignment import selectors as assignment
from apps.assignment.services.single import assign_with_decision
from apps.assignment.services.waiting import reason_record, summary
from apps.notifications.models import Kind
from apps.notifications.services.outbox import notify
from apps.people import selectors as people
from apps.tasks import services as task_services
from apps.tasks.models import (
    OPEN_STATES,
    Escalation,
    EscalationStage,
    EscalationStatus,
    State,
    Task,
)

from .models import EscalationPolicy

logger = logging.getLogger("relay.escalation")

# The stages each policy goes through, in order.
STAGES = {
    EscalationPolicy.OFF: (),
    EscalationPolicy.REMIND: (EscalationStage.REMIND,),
    EscalationPolicy.LEAD: (EscalationStage.REMIND, EscalationStage.LEAD),
    EscalationPolicy.REASSIGN: (
        EscalationStage.REMIND,
        EscalationStage.LEAD,
        EscalationStage.REASSIGN,
    ),
}
# The stage a task's escalation status says it has done.
DONE_BY_STATUS = {
    "": 0,
    EscalationStatus.REMINDED: 1,
    EscalationStatus.LEAD_ALERTED: 2,
    EscalationStatus.REASSIGNED: 3,
    EscalationStatus.NOT_REASSIGNED: 3,
}
# A task somebody is working on is not taken from them: only these are re-assigned.
REASSIGNABLE_STATES = (State.TODO, State.ASSIGNED)


@dataclass(frozen=True)
class Escalated:
    task_id: int
    stage: str
    detail: str


def next_stage(task: Task) -> str | None:
    """The stage this task's step would escalate next, whatever the time; None: no more."""
    stages = STAGES.get(task.step.escalation, ())
    done = DONE_BY_STATUS.get(task.escalation, len(stages))
    return stages[done] if done < len(stages) else None


def next_stage_at(task: Task) -> datetime | None:
    """When the next stage is due: the SLA's end for the first, then a gap after the previous
    stage happened (and never before the due date, which a lead may have moved later)."""
    if task.due_at is None or next_stage(task) is None:
        return None
    if not task.escalated_at:
        return task.due_at
    return max(task.due_at, task.escalated_at + timedelta(hours=task.step.escalate_every_hours))


def due_escalations(*, now: datetime) -> list[Task]:
    """Open tasks of escalating steps whose next stage has come: one query."""
    tasks = (
        Task.objects.filter(state__in=OPEN_STATES, due_at__lte=now, step__isnull=False)
        .exclude(step__escalation=EscalationPolicy.OFF)
        .exclude(step__escalation=EscalationPolicy.REMIND, escalation=EscalationStatus.REMINDED)
        .exclude(step__escalation=EscalationPolicy.LEAD, escalation=EscalationStatus.LEAD_ALERTED)
        .exclude(escalation__in=[EscalationStatus.REASSIGNED, EscalationStatus.NOT_REASSIGNED])
        .select_related("step")
        .order_by("due_at", "pk")
    )
    return [t for t in tasks if (at := next_stage_at(t)) is not None and at <= now]


def escalate_overdue(*, now: datetime | None = None) -> list[Escalated]:
    """Run the stage that has come of every escalating task (at most one per task per call).
    Safe to run twice and from two beats at once: see the module's docstring."""
    now = now or timezone.now()
    done = []
    for task in due_escalations(now=now):
        try:
            escalated = escalate(task_id=task.pk, now=now)
        except Exception:
            # One task's failure (a database error mid-stage) must not stop the others; its
            # stage rolled back and comes again at the next beat.
            logger.exception("escalating task %s failed", task.pk)
            continue
        if escalated is not None:
            done.append(escalated)
    return done


@transaction.atomic
def escalate(*, task_id: int, now: datetime | None = None) -> Escalated | None:
    """Escalate one task's next stage if it has come; None when there is nothing to do (held,
    finished, not yet time, or another beat did it first)."""
    now = now or timezone.now()
    # The task's row lock, the one every transition takes first: a concurrent beat waits here,
    # then reads the escalation this one committed.
    task = (
        Task.objects.select_for_update(of=("self",))
        .select_related("step", "assignee", "run", "team")
        .filter(pk=task_id)
        .first()
    )
    if task is None or task.state not in OPEN_STATES or task.step_id is None:
        return None
    stage = next_stage(task)
    at = next_stage_at(task)
    if stage is None or at is None or at > now:
        return None
    try:
        with transaction.atomic():
            record = Escalation.objects.create(task=task, stage=stage, at=now)
    except IntegrityError:
        return None  # this stage happened already: the database says so
    status, detail = STAGE_ACTIONS[stage](task=task, now=now)
    Escalation.objects.filter(pk=record.pk).update(detail=detail)
    # The card's badge; the task's change also refreshes every cached page showing it.
    Task.objects.filter(pk=task.pk).update(
        escalation=status, escalated_at=now, updated_at=timezone.now()
    )
    return Escalated(task_id=task.pk, stage=stage, detail=detail)


def _overdue_for(task: Task, now: datetime) -> str:
    hours = int((now - task.due_at).total_seconds() // 3600)
    if hours < 1:
        return _("the SLA (%(sla)s h) ran out") % {"sla": task.step.sla_hours}
    return _("%(hours)d h past its SLA (%(sla)s h)") % {"hours": hours, "sla": task.step.sla_hours}


def _payload(task: Task, note: str) -> dict:
    return {"title": task.title, "by": "Relay", "note": note, "step": task.step.name}


def _remind(*, task: Task, now: datetime) -> tuple[str, str]:
    """The overdue reminder, under the day's overdue key (apps.tasks.reminders): one notice."""
    recipients = [task.assignee] if task.assignee_id else people.leads_of(team_id=task.team_id)
    day = timezone.localdate(now).isoformat()
    notify(
        kind=Kind.OVERDUE,
        recipients=recipients,
        key=f"overdue:task:{task.pk}:day:{day}",
        task=task,
        run=task.run,
        payload={
            **_payload(task, _("Due %(when)s") % {"when": _when(task.due_at)}),
            "due": task.due_at.isoformat(),
        },
    )
    names = ", ".join(p.display_name for p in recipients) or _("nobody (the team has no lead)")
    return EscalationStatus.REMINDED, _("Reminded %(who)s: %(why)s.") % {
        "who": names,
        "why": _overdue_for(task, now),
    }


def _alert_leads(*, task: Task, now: datetime) -> tuple[str, str]:
    leads = [p for p in people.leads_of(team_id=task.team_id) if p.pk != task.assignee_id]
    whose = (
        _("%(name)s's task") % {"name": task.assignee.display_name}
        if task.assignee_id
        else _("Nobody's task")
    )
    note = _("%(whose)s is %(overdue)s.") % {"whose": whose, "overdue": _overdue_for(task, now)}
    _tell_leads(task=task, leads=leads, stage=EscalationStage.LEAD, note=note)
    if not leads:
        return EscalationStatus.LEAD_ALERTED, _("No lead to alert: %(note)s") % {"note": note}
    return EscalationStatus.LEAD_ALERTED, _("Alerted %(leads)s: %(note)s") % {
        "leads": ", ".join(p.display_name for p in leads),
        "note": note,
    }


class _NobodyTookIt(Exception):
    """Raised inside the re-assignment's savepoint to undo the unassign when nobody took it."""


def _reassign(*, task: Task, now: datetime) -> tuple[str, str]:
    overdue = _overdue_for(task, now)
    previous = task.assignee
    if task.state not in REASSIGNABLE_STATES:
        detail = _("Not re-assigned: %(name)s has started it (%(overdue)s).") % {
            "name": previous.display_name if previous else _("someone"),
            "overdue": overdue,
        }
        return _not_reassigned(task=task, detail=detail)
    excluded = [previous] if previous else []
    if not assignment.best_candidates(task=task, exclude=excluded, limit=1):
        return _not_reassigned(task=task, detail=_nobody_eligible(task, excluded, overdue))
    note = _("Escalated: %(overdue)s.") % {"overdue": overdue}
    try:
        with transaction.atomic():
            if task.state == State.ASSIGNED:
                task = task_services.unassign(task=task, by=None, note=note)
            result = assign_with_decision(task=task, by=None, exclude=excluded, note=note)
            if result.task is None:
                raise _NobodyTookIt
    except _NobodyTookIt:
        # The last eligible person's slot went to a concurrent assignment: as if nobody were.
        return _not_reassigned(task=task, detail=_nobody_eligible(task, excluded, overdue))
    chosen = result.task.assignee.display_name
    if previous:
        detail = _("Re-assigned from %(old)s to %(new)s: %(overdue)s.") % {
            "old": previous.display_name,
            "new": chosen,
            "overdue": overdue,
        }
    else:
        detail = _("Assigned to %(new)s: %(overdue)s.") % {"new": chosen, "overdue": overdue}
    _tell_leads(task=task, leads=_leads(task), stage=EscalationStage.REASSIGN, note=detail)
    return EscalationStatus.REASSIGNED, detail


def _nobody_eligible(task: Task, excluded: list, overdue: str) -> str:
    excluded_ids = {p.pk for p in excluded}
    others = [c for c in assignment.candidates(task=task) if c.user.pk not in excluded_ids]
    return _("Not re-assigned: nobody else can take it (%(why)s); %(overdue)s.") % {
        "why": summary(reason_record([(c.user, c.reasons) for c in others])),
        "overdue": overdue,
    }


def _not_reassigned(*, task: Task, detail: str) -> tuple[str, str]:
    _tell_leads(task=task, leads=_leads(task), stage=EscalationStage.REASSIGN, note=detail)
    return EscalationStatus.NOT_REASSIGNED, detail


def _leads(task: Task) -> list:
    return people.leads_of(team_id=task.team_id)


def _tell_leads(*, task: Task, leads: list, stage: str, note: str) -> None:
    notify(
        kind=Kind.ESCALATED,
        recipients=leads,
        key=f"escalation:task:{task.pk}:stage:{stage}",
        task=task,
        run=task.run,
        payload=_payload(task, note),
    )


def _when(at: datetime) -> str:
    return f"{timezone.localtime(at):%a %d %b %H:%M %Z}"


STAGE_ACTIONS = {
    EscalationStage.REMIND: _remind,
    EscalationStage.LEAD: _alert_leads,
    EscalationStage.REASSIGN: _reassign,
}
