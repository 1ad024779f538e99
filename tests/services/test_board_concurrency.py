"""People dragging cards at the same moment, on PostgreSQL, through the real pages.

Each thread is one person with their own logged-in test client (and database connection),
posting what the browser posts. A deadlock PostgreSQL breaks must never reach anyone as a 500:
the move is run again (apps.core.retry) or refused with a sentence.
"""

import logging
import random
import threading
import time
from collections import Counter

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django_fsm_log.models import StateLog

from apps.people.models import Role, User
from apps.tasks import services
from apps.tasks.models import ACTIVE_STATES, State, Task, WipLimits

from ..factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HX = {"HX-Request": "true"}
CROSSING_SECONDS = 4.0
MIN_DRAGS = 10


def _client(user: User) -> Client:
    # A 500 is counted, not raised into the thread.
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def _in_threads(bodies) -> list[BaseException]:
    """Run each body in its own thread, released together; the exceptions they raised."""
    barrier = threading.Barrier(len(bodies))
    errors: list[BaseException] = []

    def run(body):
        try:
            barrier.wait()
            body()
        except BaseException as error:  # reported by the test, never lost in a thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def _column(team, state) -> list[int]:
    """A column's cards, top first, as the board shows them."""
    return list(
        Task.objects.filter(team=team, state=state)
        .order_by("position", "-priority", "id")
        .values_list("pk", flat=True)
    )


@pytest.fixture
def crowd():
    team = TeamFactory(slug="crossing")
    lead = UserFactory()
    MembershipFactory(team=team, user=lead, role=Role.LEAD)
    people = [UserFactory(capacity=100) for _ in range(4)]
    for person in people:
        MembershipFactory(team=team, user=person, role=Role.MEMBER)
    tasks = [services.create_task(team=team, title=f"card {i}", by=lead) for i in range(24)]
    for i, task in enumerate(tasks[::2]):
        services.assign_to(task=task, assignee=people[i % len(people)], by=lead)
    return team, people


def test_cards_crossing_between_to_do_and_assigned_never_answer_500(crowd, caplog):
    caplog.set_level(logging.INFO, logger="relay.retry")
    team, people = crowd
    statuses: Counter = Counter()
    refusals: Counter = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + CROSSING_SECONDS

    def person_dragging(person, seed):
        rng = random.Random(seed)
        client = _client(person)
        drags = 0
        # A few seconds, and enough drags per person even on a busy machine.
        while time.monotonic() < stop or drags < MIN_DRAGS:
            drags += 1
            mine = list(
                Task.objects.filter(team=team, state=State.ASSIGNED, assignee=person).values_list(
                    "pk", flat=True
                )
            )
            todo = _column(team, State.TODO)
            if mine and (not todo or rng.random() < 0.5):
                card, src, dst = rng.choice(mine), State.ASSIGNED, State.TODO
            else:
                card, src, dst = rng.choice(todo), State.TODO, State.ASSIGNED
            # As boards.js sends it: the cards above the drop, then the dropped one.
            above = [pk for pk in _column(team, dst) if pk != card][: rng.randint(0, 8)]
            response = client.post(
                reverse("boards:move", args=[card]),
                {"from_state": src, "to": dst, "order": ",".join(map(str, [*above, card]))},
                headers=HX,
            )
            with lock:
                statuses[response.status_code] += 1
                if response.status_code == 409:
                    refusals[_toast(response)] += 1

    errors = _in_threads(
        [lambda p=person, n=n: person_dragging(p, n) for n, person in enumerate(people)]
    )

    retried = sum(r.name == "relay.retry" for r in caplog.records)
    print(
        f"\ncrossing drags in {CROSSING_SECONDS:.0f} s: {dict(statuses)}; 409s: "
        f"{dict(refusals)}; write conflicts retried: {retried}"
    )
    assert not errors
    assert statuses[500] == 0
    assert set(statuses) <= {200, 409}
    assert statuses[200] >= 2 * MIN_DRAGS  # the cards did cross, many times
    # A card someone else moved first is the only refusal, and it says so.
    assert all(sentence.startswith("Someone else") for sentence in refusals)
    for state in (State.TODO, State.ASSIGNED):
        positions = list(
            Task.objects.filter(team=team, state=state).values_list("position", flat=True)
        )
        assert len(positions) == len(set(positions)), f"two cards share a position in {state}"
    for task in Task.objects.filter(team=team):
        last = StateLog.objects.for_(task).order_by("timestamp", "pk").last()
        assert task.state == (last.state if last else State.TODO)
        assert (task.assignee_id is None) == (task.state == State.TODO)
    for person in people:
        person.refresh_from_db()
        active = Task.objects.filter(assignee=person, state__in=ACTIVE_STATES).count()
        assert person.active_count == active


def _toast(response) -> str:
    html = response.content.decode()
    start = html.find('class="toast')
    return html[start : start + 200].split(">", 1)[-1].split("<", 1)[0].strip()


LIMIT = 3


@pytest.fixture
def full_column():
    """Six people with work assigned, a hard limit of three on In progress."""
    team = TeamFactory(slug="wip-threads")
    lead = UserFactory()
    MembershipFactory(team=team, user=lead, role=Role.LEAD)
    WipLimits.objects.create(team=team, limits={State.IN_PROGRESS: LIMIT}, soft=False)
    people = [UserFactory(capacity=10) for _ in range(6)]
    for person in people:
        MembershipFactory(team=team, user=person, role=Role.MEMBER)
    return team, lead, people


def _start_through(way: str, client: Client, task: Task):
    if way == "task page":
        url = reverse("tasks:task_transition", args=[task.pk, "start"])
        return client.post(url, {"expected_state": State.ASSIGNED}, headers=HX)
    url = reverse("boards:move", args=[task.pk])
    if way == "board":
        data = {"from_state": State.ASSIGNED, "to": State.IN_PROGRESS, "order": str(task.pk)}
    else:  # the drawer's Start button
        data = {"action": "start", "expected_state": State.ASSIGNED, "ctx": "drawer"}
    return client.post(url, data, headers=HX)


def test_starting_through_the_task_page_board_and_drawer_never_exceeds_a_hard_wip_limit(
    full_column,
):
    team, lead, people = full_column
    ways = ("task page", "board", "drawer")
    clients = {person.pk: _client(person) for person in people}
    answers: list[tuple[str, int, str]] = []
    for _round in range(3):
        work = {
            person.pk: [
                services.assign_to(
                    task=services.create_task(team=team, title="work", by=lead),
                    assignee=person,
                    by=lead,
                )
                for _ in range(2)
            ]
            for person in people
        }

        def starting(n, person, work=work):
            for task in work[person.pk]:
                way = ways[n % len(ways)]
                response = _start_through(way, clients[person.pk], task)
                answers.append((way, response.status_code, response.content.decode()))

        errors = _in_threads(
            [lambda n=n, p=person: starting(n, p) for n, person in enumerate(people)]
        )
        assert not errors
        assert Task.objects.filter(team=team, state=State.IN_PROGRESS).count() == LIMIT
        for task in Task.objects.filter(team=team, state=State.IN_PROGRESS):
            services.complete(task=task, by=lead, outcome="done")

    print(f"\nstarts against a limit of {LIMIT}: {Counter((w, s) for w, s, _ in answers)}")
    assert sum(status == 200 for _, status, _ in answers) == 3 * LIMIT
    refused = [(way, body) for way, status, body in answers if status != 200]
    assert len(refused) == 3 * (2 * len(people) - LIMIT)
    assert all(status in (200, 409) for _, status, _ in answers)
    for way, body in refused:
        assert "In progress is full" in body, way
