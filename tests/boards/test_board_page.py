from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.people.models import Role
from apps.tasks import services
from apps.tasks.models import State, Task
from tests.factories import MembershipFactory, UserFactory
from tests.html import text_of, texts_of

pytestmark = pytest.mark.django_db


def _bulk_tasks(team, n, **fields):
    Task.objects.bulk_create(Task(team=team, title=f"Card {i}", **fields) for i in range(n))


def test_board_shows_each_open_task_in_its_lifecycle_column(
    client_for, board_url, make_task, member, lead
):
    todo = make_task(title="Clean data")
    assigned = make_task(title="Train model")
    services.assign_to(task=assigned, assignee=member, by=lead)
    html = client_for(member).get(board_url).content.decode()
    todo_cell = html.split('id="cell-0-todo"')[1].split("</ul>")[0]
    assigned_cell = html.split('id="cell-0-assigned"')[1].split("</ul>")[0]
    assert todo.title in todo_cell and todo.title not in assigned_cell
    assert assigned.title in assigned_cell


def test_done_column_shows_only_the_last_two_weeks(client_for, team, board_url, make_task, member):
    make_task(title="Recently finished")
    make_task(title="Long finished")
    Task.objects.filter(title="Recently finished").update(
        state=State.DONE, finished_at=timezone.now() - timedelta(days=2)
    )
    Task.objects.filter(title="Long finished").update(
        state=State.DONE, finished_at=timezone.now() - timedelta(days=30)
    )
    client = client_for(member)
    html = client.get(board_url).content.decode()
    done = text_of(html, id="cell-0-done")
    assert "Recently finished" in done and "Long finished" not in html
    # The older ones are behind the column's link: the team's task list of everything done.
    older = reverse("boards:task_list", args=[team.slug]) + "?state=done"
    assert f'href="{older}"' in html.split('id="head-done"')[1].split("</div>")[0]
    assert "Long finished" in client.get(older).content.decode()


def test_on_hold_and_cancelled_appear_only_when_asked_for(client_for, board_url, make_task, member):
    make_task(title="Paused work")
    Task.objects.filter(title="Paused work").update(state=State.ON_HOLD, held_from=State.TODO)
    client = client_for(member)
    assert "Paused work" not in client.get(board_url).content.decode()
    assert "Paused work" in client.get(board_url + "?show=on_hold").content.decode()


def test_filters_narrow_the_cards_and_stay_in_the_url(
    client_for, board_url, make_task, member, lead
):
    mine = make_task(title="Mine to do")
    make_task(title="Someone else's")
    services.assign_to(task=mine, assignee=member, by=lead)
    response = client_for(member).get(board_url + "?assignee=me&q=mine")
    html = response.content.decode()
    assert "Mine to do" in html and "Someone else&#x27;s" not in html
    assert "assignee=me&amp;q=mine" in html  # the poll and load-more URLs keep the filters


def test_overdue_card_is_marked(client_for, board_url, make_task, member):
    late = make_task(title="Late", due_at=timezone.now() - timedelta(hours=2))
    make_task(title="Later", due_at=timezone.now() + timedelta(hours=2))
    html = client_for(member).get(board_url).content.decode()
    assert texts_of(html, class_="is-overdue") == [text_of(html, id=f"card-{late.pk}")]
    assert "Overdue ·" in text_of(html, id=f"card-{late.pk}")


def test_swimlanes_by_assignee_group_cards_per_person(
    client_for, board_url, make_task, member, other_member, lead
):
    for person, title in ((member, "Mia's card"), (other_member, "Otto's card")):
        task = make_task(title=title)
        services.assign_to(task=task, assignee=person, by=lead)
    html = client_for(member).get(board_url + "?lane=assignee").content.decode()
    assert f'id="cell-{member.pk}-assigned"' in html
    mia_cell = html.split(f'id="cell-{member.pk}-assigned"')[1].split("</ul>")[0]
    assert "Mia" in mia_cell and "Otto" not in mia_cell


def test_a_column_renders_its_first_page_and_loads_the_rest_on_scroll(
    client_for, team, board_url, member
):
    _bulk_tasks(team, 60)
    client = client_for(member)
    html = client.get(board_url).content.decode()
    todo_cell = html.split('id="cell-0-todo"')[1].split("</ul>")[0]
    assert todo_cell.count('class="card-item') == 50
    # Scrolled into view inside its column (a scroll container), not the window: "intersect".
    assert 'hx-trigger="intersect once"' in todo_cell
    more = client.get(
        reverse("boards:more_cards", args=[team.slug]) + "?state=todo&lane=0&offset=50"
    ).content.decode()
    assert more.count('class="card-item') == 10
    assert "Loading more" not in more


def test_other_teams_board_is_not_found(client_for, board_url, outsider):
    assert client_for(outsider).get(board_url).status_code == 404


def test_other_teams_card_drawer_and_menu_are_not_found(client_for, task, outsider):
    client = client_for(outsider)
    assert client.get(reverse("boards:drawer", args=[task.pk])).status_code == 404
    assert client.get(reverse("boards:card_menu", args=[task.pk])).status_code == 404


def test_anonymous_visitor_is_sent_to_log_in(client, board_url):
    response = client.get(board_url)
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("cards", [10, 1000])
def test_board_query_count_does_not_grow_with_cards(
    client_for, team, board_url, member, django_assert_max_num_queries, cards
):
    _bulk_tasks(team, cards)
    client = client_for(member)
    with django_assert_max_num_queries(12):
        response = client.get(board_url)
    assert text_of(response, testid="count-todo") == str(cards)
    assert response.content.decode().count('class="card-item') == min(cards, 50)


def test_board_query_count_with_swimlanes_does_not_grow_with_people(
    client_for, team, board_url, member, django_assert_max_num_queries
):
    people = [UserFactory(capacity=50) for _ in range(20)]
    for person in people:
        MembershipFactory(team=team, user=person, role=Role.MEMBER)
    Task.objects.bulk_create(
        Task(team=team, title=f"Card {i}", assignee=people[i % 20], state=State.IN_PROGRESS)
        for i in range(400)
    )
    client = client_for(member)
    # Rendered (the grid's first render of this version reads the WIP limits on its own).
    with django_assert_max_num_queries(13):
        response = client.get(board_url + "?lane=assignee")
    assert text_of(response, testid="count-in_progress") == "400"
    for person in people:  # a lane each: the first ten of their twenty cards, then more
        html = response.content.decode()
        cell = html.split(f'id="cell-{person.pk}-in_progress"')[1].split("</ul>")[0]
        assert cell.count('class="card-item') == 10
        assert text_of(cell, class_="more") == "Loading more…"


def test_htmx_filter_request_answers_with_the_board_body_only(client_for, board_url, task, member):
    response = client_for(member).get(
        board_url, headers={"HX-Request": "true", "HX-Target": "board-body"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="board-body"')
    assert "<html" not in html


def test_unfiltered_columns_open_with_the_same_cards_in_the_same_order_as_filtered_ones(
    team, make_task
):
    """The unfiltered board takes each column's top off the index; a filtered one ranks its
    cells with a window: both must place the same cards at the same ranks."""
    from apps.boards import selectors

    now = timezone.now()
    for i in range(7):
        make_task(title=f"t{i}", position=i % 3, priority=1 + i % 4)
    make_task(title="old", state=State.DONE, finished_at=now - timedelta(days=30))
    make_task(title="new", state=State.DONE, finished_at=now - timedelta(days=1))
    states = (State.TODO, State.DONE)
    tops = selectors._column_tops(team=team, states=states, now=now, size=4)
    ranked = selectors._ranked_cells(
        scope=selectors._team_scope(team=team, states=states, now=now),
        lane=selectors._lane_expression(selectors.BoardFilters()),
        size=4,
    )
    assert sorted(tops) == sorted(ranked)
    assert len(tops) == 5  # four of seven to-dos, and the recent done one
