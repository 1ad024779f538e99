"""Simultaneous assignments never push anyone past capacity: the database referees."""

import threading

import pytest
from django.db import connection
from django.db.models import Count

from apps.assignment.models import WaitingTask
from apps.assignment.services.single import assign
from apps.people.models import Membership, Role, Team, User
from apps.tasks import services as task_services
from apps.tasks.models import ACTIVE_STATES, State, Task

pytestmark = pytest.mark.django_db(transaction=True)


def run_threads(count, work):
    """Run work(i) in `count` threads (each its own connection), released together."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def worker(i):
        try:
            barrier.wait()
            work(i)
        except BaseException as error:  # surfaced by the test, not swallowed
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return errors


def capacity_violations(team) -> list[str]:
    """Anyone whose committed active tasks exceed capacity (or disagree with the counter)."""
    held = dict(
        Task.objects.filter(team=team, state__in=ACTIVE_STATES)
        .values_list("assignee")
        .annotate(n=Count("id"))
    )
    problems = []
    for user in User.objects.filter(memberships__team=team):
        if held.get(user.pk, 0) > user.capacity or user.active_count > user.capacity:
            problems.append(f"{user.username}: {held.get(user.pk, 0)}/{user.capacity}")
    return problems


def make_team(people: int, capacity: int):
    team = Team.objects.create(name="Race", slug="race")
    lead = User.objects.create(username="lead", capacity=0)
    Membership.objects.create(team=team, user=lead, role=Role.LEAD)
    for i in range(people):
        user = User.objects.create(username=f"p{i}", capacity=capacity)
        Membership.objects.create(team=team, user=user)
    return team, lead


def test_sqlite_two_threads_one_free_slot_only_one_gets_it():
    team, lead = make_team(people=1, capacity=1)
    tasks = [task_services.create_task(team=team, title=f"t{i}", by=lead) for i in range(2)]
    results = [None, None]

    def work(i):
        results[i] = assign(task=tasks[i])

    assert run_threads(2, work) == []
    assert sorted(r is not None for r in results) == [False, True]
    person = User.objects.get(username="p0")
    assert person.active_count == 1
    assert Task.objects.filter(assignee=person, state=State.ASSIGNED).count() == 1
    assert WaitingTask.objects.count() == 1


@pytest.mark.postgres
def test_postgres_20_threads_100_tasks_each_against_10_people():
    team, lead = make_team(people=10, capacity=3)
    per_thread = 100
    tasks = [
        task_services.create_task(team=team, title=f"t{i}", by=lead) for i in range(20 * per_thread)
    ]
    violations: list[str] = []

    def work(i):
        for task in tasks[i * per_thread : (i + 1) * per_thread]:
            assign(task=task)  # commits (autocommit outside any atomic block)
            violations.extend(capacity_violations(team))

    assert run_threads(20, work) == []
    assert violations == []
    assert Task.objects.filter(state=State.ASSIGNED).count() == 30
    waiting = set(WaitingTask.objects.values_list("task_id", flat=True))
    for task in Task.objects.filter(team=team):
        assert task.state == State.ASSIGNED or (task.state == State.TODO and task.pk in waiting)
    assert all(WaitingTask.objects.get(task_id=pk).reasons["people"] for pk in list(waiting)[:5])
