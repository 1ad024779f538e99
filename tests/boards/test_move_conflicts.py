"""A drag the database broke a deadlock with is run again; if it keeps failing the person is
told to try again (409) and nothing changed: never a 500."""

import pytest
from django.db import OperationalError
from django_fsm_log.models import StateLog

from apps.boards import services as board_services
from apps.tasks.models import State

from .conftest import htmx, move_url

# Outside a test transaction, as in production: only then can the move be run again.
pytestmark = pytest.mark.django_db(transaction=True)


class _Deadlock(Exception):
    sqlstate = "40P01"


@pytest.fixture
def deadlocking(monkeypatch):
    """The column's reorder deadlocks its first `n` times."""
    real = board_services._rewrite_order
    failures = {"left": 0}

    def rewrite(**kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("deadlock detected") from _Deadlock()
        real(**kwargs)

    monkeypatch.setattr(board_services, "_rewrite_order", rewrite)

    def times(n):
        failures["left"] = n

    return times


def _drop(client, task):
    data = {"from_state": "todo", "to": "assigned", "order": str(task.pk)}
    return htmx(client, "post", move_url(task), data)


def test_a_drop_that_deadlocked_once_goes_through(client_for, task, member, deadlocking):
    deadlocking(1)
    response = _drop(client_for(member), task)
    assert response.status_code == 200
    task.refresh_from_db()
    assert (task.state, task.assignee) == (State.ASSIGNED, member)
    assert StateLog.objects.for_(task).filter(transition="assign").count() == 1
    member.refresh_from_db()
    assert member.active_count == 1


def test_a_drop_that_keeps_deadlocking_asks_to_try_again_and_changes_nothing(
    client_for, task, member, deadlocking
):
    deadlocking(10)
    response = _drop(client_for(member), task)
    assert response.status_code == 409
    assert "Someone else moved cards in this column at the same moment; try again." in (
        response.content.decode()
    )
    task.refresh_from_db()
    assert (task.state, task.assignee) == (State.TODO, None)
    assert not StateLog.objects.for_(task).exists()
    member.refresh_from_db()
    assert member.active_count == 0
