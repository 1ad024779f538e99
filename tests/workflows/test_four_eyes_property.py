"""A property over random runs of the ML template: whatever random people with random roles and
skills do, in whatever order, by whichever path, no review is approved by someone who did an
earlier step of its run (was its assignee, or submitted or completed it), in any iteration."""

import contextlib
import copy
import itertools

import pytest
from django.contrib.contenttypes.models import ContentType
from django_fsm_log.models import StateLog
from hypothesis import example, given
from hypothesis import strategies as st

from apps.assignment.services import batch
from apps.assignment.services import single as assignment
from apps.core.refusals import Refused
from apps.people.models import Role, Skill
from apps.tasks import services as task_services
from apps.tasks.models import UNFINISHED_STATES, State, Task
from apps.workflows import definitions, exchange, services

from ..factories import MembershipFactory, PersonSkillFactory, TeamFactory, UserFactory
from .conftest import GOOD_INPUTS

_ids = itertools.count()

person = st.tuples(
    st.sampled_from([Role.MEMBER, Role.REVIEWER, Role.LEAD]),
    st.sampled_from([0, 2, 3, 5]),  # ml-training level (0: none; the steps need 3)
    st.sampled_from([0, 2, 3, 5]),  # ml-review level
)
# Each round, someone assigns the run's open task by one path, and someone finishes it by one
# verb, with one of its step's outcomes; any of it may be refused.
PATHS = (
    "keep",  # whoever the engine chose
    "take",  # the assignment panel's "Assign to me" (a member's drag to Assigned)
    "give",  # a lead picking someone in the panel
    "auto",  # the panel's Auto-assign (a lead's drag to Assigned)
    "batch",  # the Workload page's "Auto-assign pending"
    "assign_to",  # tasks.services.assign_to, around the engine
)
FINISHES = ("complete", "approve", "request_changes", "reject")
ASSIGNEE = 5  # as the one who finishes: the task's assignee, whoever that is
round_ = st.tuples(
    st.sampled_from(PATHS),
    st.integers(0, 4),  # who takes it or is given it
    st.sampled_from(FINISHES),
    st.one_of(st.just(ASSIGNEE), st.integers(0, 4)),  # who finishes it
    st.integers(0, 2),  # which of the step's outcomes (if it completes)
)


def _skills():
    return {
        slug: Skill.objects.get_or_create(
            slug=slug, defaults={"name": slug, "is_review_skill": slug == "ml-review"}
        )[0]
        for slug in ("ml-training", "ml-review")
    }


def _assign(task, path, who, lead, team):
    if task.state == State.ASSIGNED:
        task = task_services.unassign(task=task, by=lead)
    if path == "take":
        assignment.assign(task=task, person=who, by=who)
    elif path == "give":
        assignment.assign(task=task, person=who, by=lead)
    elif path == "auto":
        assignment.assign(task=task, by=lead)
    elif path == "batch":
        batch.auto_assign_pending(team=team, by=lead)
    else:
        task_services.assign_to(task=task, assignee=who, by=who)


def _finish(task, verb, by, outcome):
    if task.state == State.ASSIGNED:
        task = task_services.start(task=task, by=task.assignee)
    if verb == "complete":
        outcomes = task.step.outcomes
        task_services.complete(task=task, by=by, outcome=outcomes[outcome % len(outcomes)])
    else:
        getattr(task_services, verb)(task=task, by=by)


def _open(run):
    return (
        Task.objects.filter(run=run, state__in=UNFINISHED_STATES)
        .exclude(step__kind="automated")
        .select_related("step", "assignee")
        .first()
    )


def _doers(task_ids) -> dict[int, set[int]]:
    """Who did each task: its assignee, and whoever submitted or completed it (the log)."""
    done: dict[int, set[int]] = {}
    for pk, assignee in Task.objects.filter(pk__in=task_ids).values_list("pk", "assignee_id"):
        done[pk] = {assignee} - {None}
    for object_id, by in StateLog.objects.filter(
        content_type=ContentType.objects.get_for_model(Task),
        object_id__in=task_ids,
        transition__in=["submit", "complete"],
    ).values_list("object_id", "by_id"):
        done[object_id].add(by)
    return done


@pytest.mark.django_db
# The exploit found on main, always tried: the lead trains and evaluates, then takes the
# review from the engine's pick and finishes it approved.
@example(
    people=[(Role.LEAD, 3, 3), (Role.MEMBER, 0, 3)],
    rounds=[("keep", 0, "complete", ASSIGNEE, 0)] * 2 + [("take", 0, "complete", ASSIGNEE, 0)],
)
@given(
    people=st.lists(person, min_size=2, max_size=5),
    rounds=st.lists(round_, max_size=12),
)
def test_no_approved_review_was_done_by_the_doer_of_an_earlier_step(people, rounds):
    n = next(_ids)
    skills = _skills()
    team = TeamFactory(slug=f"four-eyes-{n}")
    members = []
    for i, (role, training, reviewing) in enumerate(people):
        user = UserFactory(username=f"p{i}-{n}", capacity=4)
        MembershipFactory(team=team, user=user, role=Role.LEAD if i == 0 else role)
        for slug, level in (("ml-training", training), ("ml-review", reviewing)):
            if level:
                PersonSkillFactory(user=user, skill=skills[slug], level=level)
        members.append(user)
    template = exchange.import_template(copy.deepcopy(definitions.ML_DEPLOYMENT), team=team)
    run = services.start_run(
        template=template, title="random", owner=members[0], by=members[0], inputs=GOOD_INPUTS
    )
    lead = members[0]
    for path, who, verb, finisher, outcome in rounds:
        task = _open(run)
        if task is None:
            break
        if path != "keep" or task.state == State.TODO:
            with contextlib.suppress(Refused):
                _assign(task, path, members[who % len(members)], lead, team)
            task = _open(run)
        if task.assignee is None:
            continue
        by = task.assignee if finisher == ASSIGNEE else members[finisher % len(members)]
        with contextlib.suppress(Refused):
            _finish(task, verb, by, outcome)

    tasks = list(Task.objects.filter(run=run).order_by("pk").select_related("step"))
    doers = _doers([t.pk for t in tasks])
    # Who finished each task: for an approved review, whoever approved it.
    finished_by = dict(
        StateLog.objects.filter(
            content_type=ContentType.objects.get_for_model(Task),
            object_id__in=[t.pk for t in tasks],
            state="done",
        ).values_list("object_id", "by_id")
    )
    for review in (t for t in tasks if t.step.kind == "review" and t.outcome == "approved"):
        earlier = set().union(
            *(doers[t.pk] for t in tasks if t.pk < review.pk and t.step_id != review.step_id)
        )
        assert review.assignee_id not in earlier
        assert finished_by[review.pk] not in earlier
