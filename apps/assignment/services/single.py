"""Assigning one task: to a chosen person, or to the best eligible member; and the decision
record that answers "why them?" later.

When nobody fits, the task is marked waiting (`waiting.mark_waiting`) and retried when someone
frees up (`retries`).
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus

from django.db import transaction
from django.utils.translation import gettext as _

from apps.people import selectors as people
from apps.people.models import User
from apps.tasks import services as task_services
from apps.tasks.models import State, Task
from apps.tasks.services import TaskActionRefused, WipLimitRefused

from .. import selectors
from ..models import AssignmentDecision, Mode, WaitingTask
from ..selectors import TOP_N, Candidate
from .waiting import mark_waiting

logger = logging.getLogger("relay.assignment")


@dataclass
class Assignment:
    """What `assign_with_decision` did: the task (None if nobody fits), why, and the ranking."""

    task: Task | None
    decision: AssignmentDecision | None
    candidates: list[Candidate]
    waiting: WaitingTask | None = None


def assign(
    *,
    task: Task,
    person: User | None = None,
    by: User | None = None,
    exclude: Iterable = (),
    override: bool = False,
    note: str = "",
) -> Task | None:
    """Give `task` to `person`, or (None) to the best eligible member; None if nobody fits.

    Refuses (TaskActionRefused, with the reasons) a person who is not eligible, unless `by` is
    a lead, `override` is set and the only reasons are availability (away, time off). Nobody
    fitting leaves the task `todo`, marked waiting with the reasons, and tells the leads.
    """
    return assign_with_decision(
        task=task, person=person, by=by, exclude=exclude, override=override, note=note
    ).task


# How many of those who could not take a task a decision keeps, with their reasons.
KEPT_OTHERS = 50


@transaction.atomic
def assign_with_decision(
    *,
    task: Task,
    person: User | None = None,
    by: User | None = None,
    exclude: Iterable = (),
    override: bool = False,
    note: str = "",
) -> Assignment:
    excluded = sorted(selectors._excluded_ids(exclude))
    if person is not None:
        return _assign_person(
            task=task, person=person, by=by, excluded=excluded, override=override, note=note
        )
    if by is not None and not people.is_lead(team_id=task.team_id, user=by):
        # Choosing for someone else is a lead's call (or Relay's own, by=None).
        raise TaskActionRefused(
            task_services.ACTIONS["assign"].refused_for_role, status=HTTPStatus.FORBIDDEN
        )
    refused: list[int] = []
    ranked = selectors.best_candidates(task=task, exclude=excluded)
    top = ranked
    while top:
        for candidate in top:
            try:
                # assign_to runs in its own savepoint (tasks.services._apply is atomic): a
                # refused attempt leaves nothing behind and the next one starts clean.
                assigned = task_services.assign_to(
                    task=task, assignee=candidate.user, by=by, note=note, vetted=True
                )
            except WipLimitRefused:
                # The column is full whoever takes it: not a reason to try the next person.
                raise
            except TaskActionRefused:
                if _state_of(task) != State.TODO:
                    raise
                # Lost a race for this person's last slot (the database refused the counter):
                # take the next in line.
                refused.append(candidate.user.pk)
                continue
            decision = _record(
                task=assigned, chosen=candidate, ranked=ranked, mode=Mode.AUTO, by=by, note=note
            )
            return Assignment(task=assigned, decision=decision, candidates=ranked)
        top = selectors.best_candidates(task=task, exclude=[*excluded, *refused])
    if _state_of(task) != State.TODO:
        raise TaskActionRefused(_("This task is no longer waiting to be assigned."))
    everyone = selectors.candidates(task=task, exclude=excluded)
    waiting = mark_waiting(task=task, ranked=everyone, excluded=excluded)
    return Assignment(task=None, decision=None, candidates=everyone, waiting=waiting)


def _assign_person(
    *, task: Task, person: User, by: User | None, excluded: list[int], override: bool, note: str
) -> Assignment:
    candidate = next(
        iter(selectors.candidates(task=task, exclude=excluded, user_id=person.pk)), None
    )
    if candidate is None:
        raise TaskActionRefused(
            _("%(name)s is not a member of this team.") % {"name": person.display_name}
        )
    overrode: list[str] = []
    if not candidate.eligible:
        may_override = (
            candidate.overridable
            and by is not None
            and people.is_lead(team_id=task.team_id, user=by)
        )
        if not (override and may_override):
            message = selectors.refusal_for(candidate=candidate, task=task, by=by)
            if may_override:
                message += " " + _("As a lead you may override availability.")
            raise TaskActionRefused(message)
        overrode = candidate.reason_texts
        # The override goes into the task's history too, not only the decision.
        note = (note + " " if note else "") + _("(Lead override of availability: %(why)s.)") % {
            "why": "; ".join(overrode)
        }
    # The engine checked eligibility above (lead overrides included).
    assigned = task_services.assign_to(
        task=task, assignee=candidate.user, by=by, note=note, vetted=True
    )
    # The ranking as it stood (from before this assignment), with the chosen person in it.
    ranked = selectors.best_candidates(task=task, exclude=[*excluded, person.pk])
    pool = sorted([candidate, *ranked], key=selectors.sort_key)
    ranked = pool[:TOP_N] if candidate in pool[:TOP_N] else [*pool[: TOP_N - 1], candidate]
    decision = _record(
        task=assigned,
        chosen=candidate,
        ranked=ranked,
        mode=Mode.MANUAL,
        by=by,
        note=note,
        overrode=overrode,
    )
    if overrode:
        logger.warning(
            "availability override: %s assigned task %s to %s despite %s",
            by.username if by else "relay",
            task.pk,
            person.username,
            "; ".join(overrode),
        )
    return Assignment(task=assigned, decision=decision, candidates=ranked)


def _state_of(task: Task) -> str | None:
    return Task.objects.filter(pk=task.pk).values_list("state", flat=True).first()


def _record(
    *,
    task: Task,
    chosen: Candidate,
    ranked: list[Candidate],
    mode: str,
    by: User | None,
    note: str = "",
    overrode: list[str] | None = None,
) -> AssignmentDecision:
    top = ranked[:TOP_N]
    # Besides the best few, everyone who could not take it and why, so the panel still answers
    # "why not the others" after the decision (one query: the team with its reasons).
    shown = {c.user.pk for c in top}
    others = [
        c for c in selectors.candidates(task=task) if not c.eligible and c.user.pk not in shown
    ]
    return AssignmentDecision.objects.create(
        task=task,
        assignee=chosen.user,
        mode=mode,
        by=by,
        score=chosen.score if chosen.eligible else None,
        ranked=[c.as_record() for c in [*top, *others[:KEPT_OTHERS]]],
        overrode=overrode or [],
        note=note[:300],
    )
