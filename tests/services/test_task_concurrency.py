"""Two people act on one task at the same moment, on PostgreSQL: exactly one wins."""

import pytest
from django_fsm_log.models import StateLog

from apps.people.models import Role
from apps.tasks import services
from apps.tasks.models import State, Task

from ..concurrency import run_together
from ..factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def setup():
    team = TeamFactory(slug="concurrency")
    lead, assignee, reviewer_a, reviewer_b = (UserFactory() for _ in range(4))
    for user, role in [
        (lead, Role.LEAD),
        (assignee, Role.MEMBER),
        (reviewer_a, Role.REVIEWER),
        (reviewer_b, Role.REVIEWER),
    ]:
        MembershipFactory(team=team, user=user, role=role)
    task = services.create_task(team=team, title="contested", by=lead)
    task = services.assign_to(task=task, assignee=assignee, by=lead)
    return task, lead, assignee, reviewer_a, reviewer_b


def test_two_tabs_starting_the_same_task(setup):
    task, _, assignee, *_ = setup
    results = run_together(
        lambda: services.start(task=task, by=assignee, expected_state="assigned"),
        lambda: services.start(task=task, by=assignee, expected_state="assigned"),
    )
    outcomes = sorted(kind for kind, _ in results)
    assert outcomes == ["ok", "refused"]
    refusal = next(message for kind, message in results if kind == "refused")
    assert "Someone else changed this task first" in refusal
    task.refresh_from_db()
    assert task.state == State.IN_PROGRESS
    assert StateLog.objects.for_(task).filter(transition="start").count() == 1


def test_approve_and_reject_race(setup):
    task, _, assignee, reviewer_a, reviewer_b = setup
    services.start(task=task, by=assignee)
    services.submit(task=task, by=assignee)
    results = run_together(
        lambda: services.approve(task=task, by=reviewer_a, expected_state="in_review"),
        lambda: services.reject(task=task, by=reviewer_b, expected_state="in_review"),
    )
    assert sorted(kind for kind, _ in results) == ["ok", "refused"]
    task = Task.objects.get(pk=task.pk)
    assert task.state == State.DONE
    decisions = StateLog.objects.for_(task).filter(transition__in=["approve", "reject"])
    assert decisions.count() == 1
    assert task.outcome == {"approve": "approved", "reject": "rejected"}[decisions.get().transition]


def test_capacity_holds_when_two_leads_assign_the_last_slot(setup):
    task, lead, *_ = setup
    team = task.team
    person = UserFactory(capacity=1)
    MembershipFactory(team=team, user=person)
    first = services.create_task(team=team, title="a", by=lead)
    second = services.create_task(team=team, title="b", by=lead)
    results = run_together(
        lambda: services.assign_to(task=first, assignee=person, by=lead),
        lambda: services.assign_to(task=second, assignee=person, by=lead),
    )
    assert sorted(kind for kind, _ in results) == ["ok", "refused"]
    person.refresh_from_db()
    assert person.active_count == 1
    assert Task.objects.filter(assignee=person, state=State.ASSIGNED).count() == 1
