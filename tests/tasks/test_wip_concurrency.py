"""Two people take the last free slot of a column at once, on PostgreSQL: the limit is decided
in apps.tasks (the one transition entry point), whichever page each of them pressed."""

import pytest

from apps.boards import services as board
from apps.people.models import Role
from apps.tasks import services
from apps.tasks.models import State, Task, WipLimits

from ..concurrency import run_together
from ..factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def racers():
    """Ann and Bob each have an assigned task; In progress has room for one more."""
    team = TeamFactory(slug="wip-race")
    lead, ann, bob = UserFactory(), UserFactory(), UserFactory()
    for user, role in [(lead, Role.LEAD), (ann, Role.MEMBER), (bob, Role.MEMBER)]:
        MembershipFactory(team=team, user=user, role=role)
    WipLimits.objects.create(team=team, limits={"in_progress": 1})
    tasks = []
    for person in (ann, bob):
        task = services.create_task(team=team, title=f"{person.username}'s", by=lead)
        tasks.append(services.assign_to(task=task, assignee=person, by=lead))
    team = type(team).objects.select_related("wip_limits").get(pk=team.pk)
    for task in tasks:
        task.team = team
    return team, tasks, ann, bob


def assert_one_got_in(team, results):
    assert sorted(kind for kind, _ in results) == ["ok", "refused"]
    assert "is full" in next(message for kind, message in results if kind == "refused")
    assert Task.objects.filter(team=team, state=State.IN_PROGRESS).count() == 1


def test_hard_limit_holds_when_two_cards_race_for_the_last_slot(racers):
    team, tasks, ann, bob = racers
    results = run_together(
        lambda: board.move(task=tasks[0], from_state="assigned", to_state="in_progress", by=ann),
        lambda: board.move(task=tasks[1], from_state="assigned", to_state="in_progress", by=bob),
    )
    assert_one_got_in(team, results)


def test_hard_limit_holds_when_a_task_page_start_races_a_drag(racers):
    team, tasks, ann, bob = racers
    results = run_together(
        lambda: services.start(task=tasks[0], by=ann, expected_state="assigned"),
        lambda: board.move(task=tasks[1], from_state="assigned", to_state="in_progress", by=bob),
    )
    assert_one_got_in(team, results)


def test_hard_limit_holds_when_two_task_page_starts_race(racers):
    team, tasks, ann, bob = racers
    results = run_together(
        lambda: services.start(task=tasks[0], by=ann),
        lambda: services.start(task=tasks[1], by=bob),
    )
    assert_one_got_in(team, results)
