"""Capacity is decided below the pages (the assignment engine and the capacity counter in
apps.tasks.services): every path that gives someone one more active task says the same."""

import pytest
from django.urls import reverse

from apps.tasks import services
from apps.tasks.models import State

from ..boards.conftest import htmx, move_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def full(make_member, make_task, lead):
    """Mia can hold one active task and holds one; another task of hers is on hold."""
    mia = make_member(username="mia", capacity=1)
    held = services.assign_to(task=make_task(title="Held"), assignee=mia, by=lead)
    services.hold(task=held, by=lead)
    services.assign_to(task=make_task(title="Busy"), assignee=mia, by=lead)
    return mia, held


def sentence(mia):
    return f"{mia.display_name} can't take this task: at capacity 1/1."


@pytest.mark.parametrize("path", ["service", "assignment panel", "board drag", "resume"])
def test_every_path_refuses_one_task_too_many_with_the_same_sentence(
    path, full, client_for, make_task, lead
):
    mia, held = full
    task = make_task(title="One more")
    if path == "service":
        with pytest.raises(services.TaskActionRefused) as refusal:
            services.assign_to(task=task, assignee=mia, by=lead)
        said = str(refusal.value)
    else:
        response = {
            "assignment panel": lambda: htmx(
                client_for(lead),
                "post",
                reverse("assignment:assign", args=[task.pk]),
                {"person": mia.pk, "expected_state": "todo", "page": "drawer"},
            ),
            "board drag": lambda: htmx(
                client_for(mia), "post", move_url(task), {"from_state": "todo", "to": "assigned"}
            ),
            "resume": lambda: client_for(mia).post(
                reverse("tasks:task_transition", args=[held.pk, "resume"]),
                {"expected_state": "on_hold"},
            ),
        }[path]()
        assert response.status_code == 409
        said = response.content.decode().replace("&#x27;", "'")
    assert sentence(mia) in said
    task.refresh_from_db()
    held.refresh_from_db()
    assert (task.state, held.state) == (State.TODO, State.ON_HOLD)
    mia.refresh_from_db()
    assert mia.active_count == 1
