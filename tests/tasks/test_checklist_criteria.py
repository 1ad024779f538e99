"""A task's completion criteria: required checklist items hold up submitting and completing
the work, naming the open ones, whoever tries and from wherever; other items never do."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from apps.tasks import services
from apps.tasks.models import State, Task

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

BLOCKED = "Tick the required items first: Tests pass, Docs updated."
CRITERIA = [("Tests pass", True), "Screenshots attached", ("Docs updated", True)]


@pytest.fixture
def working(make_task, member, lead):
    """`member` is working on a task with two required items and one optional one."""

    def make(**kwargs):
        task = make_task(title="Ship it", checklist=CRITERIA, **kwargs)
        task = services.assign_to(task=task, assignee=member, by=lead)
        return services.start(task=task, by=member)

    return make


def tick(task, text, by, done=True):
    return services.toggle_checklist_item(item=task.checklist.get(text=text), by=by, done=done)


def state_of(task):
    return Task.objects.get(pk=task.pk).state


def test_completing_with_required_items_open_is_refused_naming_them(working, member):
    task = working()
    with pytest.raises(services.TaskActionRefused) as refused:
        services.complete(task=task, by=member)
    assert str(refused.value) == BLOCKED
    assert refused.value.status == HTTPStatus.CONFLICT
    assert state_of(task) == State.IN_PROGRESS


def test_submitting_with_required_items_open_is_refused_naming_them(working, member):
    task = working(requires_review=True)
    tick(task, "Docs updated", member)
    with pytest.raises(
        services.TaskActionRefused, match=r"^Tick the required items first: Tests pass\.$"
    ):
        services.submit(task=task, by=member)
    assert state_of(task) == State.IN_PROGRESS


def test_a_lead_is_held_to_the_criteria_too(working, lead):
    with pytest.raises(services.TaskActionRefused, match=BLOCKED):
        services.perform(task=working(), action="complete", by=lead)


def test_ticking_the_required_items_lets_the_work_through(working, member):
    task = working()
    tick(task, "Tests pass", member)
    tick(task, "Docs updated", member)
    task = services.complete(task=task, by=member)
    assert task.state == State.DONE
    # The optional item was never ticked and held nothing up.
    assert not task.checklist.get(text="Screenshots attached").done


def test_unticking_a_required_item_blocks_again(working, member):
    task = working(requires_review=True)
    tick(task, "Tests pass", member)
    tick(task, "Docs updated", member)
    tick(task, "Tests pass", member, done=False)
    with pytest.raises(services.TaskActionRefused, match=r"first: Tests pass\.$"):
        services.submit(task=task, by=member)


def test_items_that_are_not_required_never_block(make_task, member, lead):
    task = make_task(title="Tidy up", checklist=["Inputs checked", "Result recorded"])
    task = services.assign_to(task=task, assignee=member, by=lead)
    task = services.start(task=task, by=member)
    assert services.complete(task=task, by=member).state == State.DONE


def test_a_review_is_decided_whatever_the_checklist_says(working, member, reviewer):
    task = working(requires_review=True)
    tick(task, "Tests pass", member)
    tick(task, "Docs updated", member)
    task = services.submit(task=task, by=member)
    tick(task, "Tests pass", reviewer, done=False)  # the reviewer found it failing
    assert services.request_changes(task=task, by=reviewer).state == State.IN_PROGRESS


def test_holding_and_cancelling_are_not_held_up(working, member, lead):
    task = services.hold(task=working(), by=member)
    assert services.cancel(task=task, by=lead).state == State.CANCELLED


def test_ticking_touches_the_task_so_open_boards_refresh_its_card(working, member):
    task = working()
    before = Task.objects.get(pk=task.pk).updated_at
    tick(task, "Tests pass", member)
    assert Task.objects.get(pk=task.pk).updated_at > before


# --- through the pages ---------------------------------------------------------------------


def htmx_post(client, url, data):
    return client.post(url, data, headers={"HX-Request": "true"})


def test_the_task_page_refuses_complete_with_the_sentence(client_for, working, member):
    task = working()
    response = htmx_post(
        client_for(member),
        reverse("tasks:task_transition", args=[task.pk, "complete"]),
        {"expected_state": "in_progress", "outcome": "done"},
    )
    assert response.status_code == HTTPStatus.CONFLICT
    assert BLOCKED in response.content.decode()
    assert state_of(task) == State.IN_PROGRESS


def test_dragging_the_card_to_done_snaps_back_with_the_sentence(client_for, working, member):
    task = working()
    response = htmx_post(
        client_for(member),
        reverse("boards:move", args=[task.pk]),
        {"from_state": "in_progress", "to": "done"},
    )
    assert response.status_code == HTTPStatus.CONFLICT
    assert BLOCKED in response.content.decode()
    assert state_of(task) == State.IN_PROGRESS


def test_ticking_on_the_task_page_answers_with_the_task_keeping_the_typed_note(
    client_for, working, member
):
    task = working()
    item = task.checklist.get(text="Tests pass")
    response = htmx_post(
        client_for(member),
        reverse("tasks:task_tick", args=[task.pk, item.pk]),
        {"done": "1", "note": "All green on CI"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="task-main"' in html and "<h2>Checklist</h2>" in html
    assert "All green on CI</textarea>" in html
    assert html.count(">required</span>") == 2  # marked in words, not colour only
    item.refresh_from_db()
    assert item.done


def test_ticking_without_javascript_goes_back_to_the_task_page(client_for, working, member):
    task = working()
    item = task.checklist.get(text="Tests pass")
    response = client_for(member).post(
        reverse("tasks:task_tick", args=[task.pk, item.pk]), {"done": "1"}
    )
    assert response.status_code == 302 and response.url == task.get_absolute_url()
    item.refresh_from_db()
    assert item.done


def test_a_tick_that_is_neither_on_nor_off_is_refused(client_for, working, member):
    task = working()
    item = task.checklist.get(text="Tests pass")
    response = htmx_post(
        client_for(member), reverse("tasks:task_tick", args=[task.pk, item.pk]), {"done": "yes"}
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert 'role="alert"' in response.content.decode()
    item.refresh_from_db()
    assert not item.done


def test_staff_outside_the_team_ticking_on_the_task_page_is_told_why(client_for, working):
    task = working()
    item = task.checklist.get(text="Tests pass")
    response = htmx_post(
        client_for(UserFactory(is_staff=True)),
        reverse("tasks:task_tick", args=[task.pk, item.pk]),
        {"done": "1"},
    )
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "Only team members tick checklist items." in response.content.decode()
    item.refresh_from_db()
    assert not item.done


def test_someone_who_cannot_see_the_task_gets_404(client_for, working, outsider):
    task = working()
    item = task.checklist.get(text="Tests pass")
    response = htmx_post(
        client_for(outsider), reverse("tasks:task_tick", args=[task.pk, item.pk]), {"done": "1"}
    )
    assert response.status_code == 404


def test_the_drawer_ticks_required_items_and_says_they_are_required(client_for, working, member):
    task = working()
    item = task.checklist.get(text="Docs updated")
    response = htmx_post(
        client_for(member), reverse("boards:tick", args=[task.pk, item.pk]), {"done": "1"}
    )
    assert response.status_code == 200
    assert 'id="drawer-checklist"' in response.content.decode()
    assert ">required</span>" in response.content.decode()
    item.refresh_from_db()
    assert item.done
