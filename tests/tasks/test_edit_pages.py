"""Editing a task from its page and from the board's drawer: the form, the saved panel with
its history line, and what a refused or stale edit answers."""

import re

import pytest
from django.urls import reverse

from apps.people.models import Role
from apps.tasks import edits, services
from apps.tasks.models import Priority

from ..html import text_of, texts_of, values_of

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def edit_url(task, where):
    name = "boards:edit" if where == "drawer" else "tasks:task_edit"
    return reverse(name, args=[task.pk])


def disabled(response, name) -> bool:
    """Whether the form's field `name` is disabled (a bare attribute)."""
    tag = re.search(
        rf'<(?:input|select|textarea)[^>]*name="{name}"[^>]*>', response.content.decode()
    )
    assert tag, f"no field {name}"
    return " disabled" in tag.group(0)


def posted(task, **changes):
    """What the edit form posts, unchanged but for `changes`."""
    task.refresh_from_db()
    data = {
        "title": task.title,
        "description": task.description,
        "due_at": "",
        "priority": str(task.priority),
        "required_skill": "",
        "min_level": str(task.min_level),
        "reviewer": "",
        "version": edits.version_of(task),
    }
    return data | changes


def test_the_page_offers_edit_to_the_assignee_but_not_to_another_member(
    client_for, task, member, other_member, lead
):
    services.assign_to(task=task, assignee=member, by=lead)
    page = client_for(member).get(task.get_absolute_url())
    assert text_of(page, testid="edit-task") == "Edit"
    page = client_for(other_member).get(task.get_absolute_url())
    assert texts_of(page, testid="edit-task") == []
    response = client_for(other_member).get(edit_url(task, "page"), headers=HTMX)
    assert response.status_code == 403
    assert "assignee, its creator or a team lead" in text_of(response, testid="edit-error")


def test_the_assignees_form_has_the_reviewer_and_skill_disabled(client_for, task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    form = client_for(member).get(edit_url(task, "page"), headers=HTMX)
    assert form.status_code == 200
    assert values_of(form, "value", name="title") == ["Train churn model"]
    assert disabled(form, "reviewer") and disabled(form, "min_level")
    assert not disabled(form, "title") and not disabled(form, "due_at")


@pytest.mark.parametrize("where", ["page", "drawer"])
def test_saving_answers_the_panel_with_the_history_line(client_for, task, member, lead, where):
    services.assign_to(task=task, assignee=member, by=lead)
    response = client_for(member).post(
        edit_url(task, where),
        posted(task, title="Train the churn model", priority=str(Priority.URGENT)),
        headers=HTMX,
    )
    assert response.status_code == 200
    panel = "#drawer-body" if where == "drawer" else "#task-main"
    assert response["HX-Retarget"] == panel
    testid = "drawer-history" if where == "drawer" else "history"
    history = text_of(response, testid=testid)
    assert f"{member.display_name} Title: Train churn model → Train the churn model" in history
    assert f"{member.display_name} Priority: Normal → Urgent" in history
    if where == "drawer":
        assert text_of(response, id="drawer-title") == "Train the churn model"
        assert "relay:task-edited" in response["HX-Trigger"]


def test_a_stale_edit_answers_the_form_with_the_sentence(client_for, task, lead):
    data = posted(task, title="Mine")
    services.assign_to(task=task, assignee=lead, by=lead)  # meanwhile, in another tab
    response = client_for(lead).post(edit_url(task, "page"), data, headers=HTMX)
    assert response.status_code == 409
    assert "changed this task since you opened the form" in text_of(response, testid="edit-error")
    assert values_of(response, "value", name="title") == ["Mine"]
    task.refresh_from_db()
    assert task.title == "Train churn model"


def test_an_empty_title_is_a_form_error_and_nothing_changes(client_for, task, lead):
    response = client_for(lead).post(
        edit_url(task, "drawer"), posted(task, title=" "), headers=HTMX
    )
    assert response.status_code == 422
    assert task.changes.count() == 0


def test_an_assignee_posting_a_reviewer_changes_nothing(
    client_for, task, member, make_member, lead
):
    """The disabled field is ignored: a hand-made POST can't name a reviewer either."""
    services.assign_to(task=task, assignee=member, by=lead)
    friend = make_member(Role.REVIEWER, username="fred")
    response = client_for(member).post(
        edit_url(task, "page"), posted(task, reviewer=str(friend.pk)), headers=HTMX
    )
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.reviewer is None


def test_without_htmx_saving_goes_back_to_the_task_page(client_for, task, lead):
    response = client_for(lead).post(edit_url(task, "page"), posted(task, title="Plain"))
    assert response.status_code == 302
    assert response["Location"] == task.get_absolute_url()


def test_another_teams_task_is_not_found(client_for, task, outsider):
    assert client_for(outsider).get(edit_url(task, "drawer")).status_code == 404


def test_cards_show_priority_as_words(client_for, team, make_task, member):
    make_task(title="Fire", priority=Priority.URGENT)
    make_task(title="Someday", priority=Priority.LOW)
    make_task(title="Usual")
    board = client_for(member).get(reverse("boards:board", args=[team.slug]))
    badges = texts_of(board, class_="prio")
    assert sorted(badges) == ["↓ Low", "⇈ Urgent"]


def test_my_work_cards_show_priority_too(client_for, make_task, member, lead):
    urgent = make_task(title="Fire", priority=Priority.URGENT)
    services.assign_to(task=urgent, assignee=member, by=lead)
    page = client_for(member).get(reverse("boards:my_work"))
    assert texts_of(page, class_="prio") == ["⇈ Urgent"]
