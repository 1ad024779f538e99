"""What a drop on the board answers: the moved card and the two column heads, not the columns.

A dragged card is already where the person dropped it, so a move that goes through answers with
that card as it now is and the heads of the columns it left and joined (counts, WIP limits),
swapped out-of-band. A refused drop, a filtered board or one with swimlanes gets the columns
re-rendered from the database (which puts a refused card back where it was).
"""

import pytest

from apps.tasks import services
from apps.tasks.models import State, Task, WipLimits

from ..html import text_of, values_of
from .conftest import htmx, move_url

pytestmark = pytest.mark.django_db

BOARD = "http://testserver/teams/data-science/board/"


def drop(client, task, src, dst, *, above=(), current_url=BOARD):
    """A drag from `src` onto `dst`, below the cards `above` (what boards.js sends)."""
    order = ",".join(str(t.pk) for t in [*above, task])
    data = {"from_state": src, "to": dst, "order": order}
    return htmx(client, "post", move_url(task), data, current_url=current_url)


def assigned_to(member, lead, make_task, n, **kwargs):
    tasks = [make_task(title=f"Task {i}", **kwargs) for i in range(n)]
    for task in tasks:
        services.assign_to(task=task, assignee=member, by=lead)
    return tasks


def test_a_drop_answers_with_the_card_in_its_new_column_and_not_the_columns(
    client_for, make_task, member, lead
):
    task, _ = assigned_to(member, lead, make_task, 2)
    html = drop(client_for(member), task, "assigned", "in_progress").content.decode()
    assert values_of(html, "data-state", id=f"card-{task.pk}") == ["in_progress"]
    assert values_of(html, "hx-swap-oob", id=f"card-{task.pk}") == ["true"]
    assert 'class="cell"' not in html  # no column re-rendered
    assert "“Task 0” → In progress." in text_of(html, testid="toast")


def test_a_drop_updates_the_counts_of_both_columns(client_for, make_task, member, lead):
    task, *_ = assigned_to(member, lead, make_task, 3)
    html = drop(client_for(member), task, "assigned", "in_progress").content.decode()
    assert text_of(html, testid="count-assigned") == "2"
    assert text_of(html, testid="count-in_progress") == "1"
    assert values_of(html, "hx-swap-oob", id="head-assigned") == ["true"]
    assert 'id="head-todo"' not in html  # a column the move did not touch


def test_a_drop_shows_what_the_move_changed_on_the_card(client_for, make_task, member):
    task = make_task(title="Take me")
    html = drop(client_for(member), task, "todo", "assigned").content.decode()
    card = text_of(html, id=f"card-{task.pk}")
    assert "Take me" in card
    assert values_of(html, "title", class_="avatar") == [member.display_name]


def test_a_drop_into_a_column_at_its_limit_marks_its_head(
    client_for, team, make_task, member, lead
):
    WipLimits.objects.create(team=team, limits={"in_progress": 2}, soft=True)
    first, second = assigned_to(member, lead, make_task, 2)
    services.start(task=first, by=member)
    html = drop(client_for(member), second, "assigned", "in_progress").content.decode()
    assert text_of(html, testid="count-in_progress") == "2/2"
    assert "at-limit" in values_of(html, "class", id="head-in_progress")[0]


def test_a_drop_over_a_soft_limit_warns_and_marks_the_column_over(
    client_for, team, make_task, member, lead
):
    WipLimits.objects.create(team=team, limits={"in_progress": 1}, soft=True)
    first, second = assigned_to(member, lead, make_task, 2)
    services.start(task=first, by=member)
    response = drop(client_for(member), second, "assigned", "in_progress")
    html = response.content.decode()
    assert response.status_code == 200
    assert "over its WIP limit (2/1)" in text_of(html, testid="toast")
    assert "over-limit" in values_of(html, "class", id="head-in_progress")[0]
    assert "warning" in values_of(html, "class", testid="toast")[0]


def test_a_drop_refused_by_a_hard_limit_puts_the_card_back_with_the_reason(
    client_for, team, make_task, member, lead
):
    WipLimits.objects.create(team=team, limits={"in_progress": 1})
    first, second = assigned_to(member, lead, make_task, 2)
    services.start(task=first, by=member)
    response = drop(client_for(member), second, "assigned", "in_progress", above=[first])
    html = response.content.decode()
    assert response.status_code == 409
    assert "In progress is full (1/1" in text_of(html, testid="toast")
    assigned_cell = html.split('id="cell-0-assigned"')[1].split("</ul>")[0]
    in_progress_cell = html.split('id="cell-0-in_progress"')[1].split("</ul>")[0]
    assert f'id="card-{second.pk}"' in assigned_cell
    assert f'id="card-{second.pk}"' not in in_progress_cell
    second.refresh_from_db()
    assert second.state == State.ASSIGNED


def test_a_refused_drop_leaves_the_card_where_it_was(client_for, task, member):
    response = drop(client_for(member), task, "todo", "in_review")
    html = response.content.decode()
    assert response.status_code == 409
    assert "straight to In review" in text_of(html, testid="toast")
    todo_cell = html.split('id="cell-0-todo"')[1].split("</ul>")[0]
    assert f'id="card-{task.pk}"' in todo_cell
    assert Task.objects.get(pk=task.pk).state == State.TODO


def test_a_drop_on_a_filtered_board_re_renders_its_columns(client_for, make_task, member, lead):
    (task,) = assigned_to(member, lead, make_task, 1)
    response = drop(
        client_for(member),
        task,
        "assigned",
        "todo",
        current_url=BOARD + "?assignee=" + member.username,
    )
    html = response.content.decode()
    # Unassigned, the card no longer matches the filter: it leaves the board.
    assert 'id="cell-0-todo"' in html
    assert f'id="card-{task.pk}"' not in html


def test_a_drop_on_a_board_with_swimlanes_re_renders_the_board(client_for, task, member):
    response = drop(
        client_for(member), task, "todo", "assigned", current_url=BOARD + "?lane=assignee"
    )
    html = response.content.decode()
    assert f'id="cell-{member.pk}-assigned"' in html


def test_the_board_after_a_drop_shows_the_card_in_its_new_column(
    client_for, board_url, make_task, member, lead
):
    above, task = assigned_to(member, lead, make_task, 2)
    services.start(task=above, by=member)
    client = client_for(member)
    drop(client, task, "assigned", "in_progress", above=[above])
    html = client.get(board_url).content.decode()
    in_progress_cell = html.split('id="cell-0-in_progress"')[1].split("</ul>")[0]
    ids = values_of(in_progress_cell, "data-id", class_="card-item")
    assert ids == [str(above.pk), str(task.pk)]
    assert text_of(html, testid="count-assigned") == "0"
