"""The team task list: one page at a time, filtered like the board (the same names in the URL),
in every state and any order; bad parameters answered with a sentence, never a 500."""

import pytest
from django.urls import reverse

from apps.boards.views import LIST_PAGE_SIZE
from apps.tasks import services
from apps.tasks.models import Task

from ..factories import TaskFactory, TeamFactory


def _bulk_tasks(team, count, **fields):
    Task.objects.bulk_create(Task(team=team, title=f"Task {i:04d}", **fields) for i in range(count))


@pytest.fixture
def list_url(team):
    return reverse("boards:task_list", args=[team.slug])


def test_state_and_search_narrow_the_list(client_for, list_url, make_task, lead):
    make_task(title="Alpha")
    services.cancel(task=make_task(title="Beta"), by=lead)
    body = client_for(lead).get(list_url, {"state": "cancelled"}).content.decode()
    assert "Beta" in body and "Alpha" not in body
    body = client_for(lead).get(list_url, {"q": "alp"}).content.decode()
    assert "Alpha" in body and "Beta" not in body


def test_the_boards_filters_work_on_the_list(client_for, list_url, make_task, lead, member):
    mine = make_task(title="Task of Mia")
    services.assign_to(task=mine, assignee=member, by=lead)
    make_task(title="Task of nobody")
    body = client_for(member).get(list_url, {"assignee": "me"}).content.decode()
    assert "Task of Mia" in body and "Task of nobody" not in body
    body = client_for(member).get(list_url, {"assignee": "none"}).content.decode()
    assert "Task of nobody" in body and "Task of Mia" not in body


def test_board_and_list_open_each_other_with_the_same_filters(client_for, team, list_url, lead):
    board = client_for(lead).get(reverse("boards:board", args=[team.slug]), {"assignee": "me"})
    assert f'href="{list_url}?assignee=me"' in board.content.decode()
    listing = client_for(lead).get(list_url, {"assignee": "me", "state": "todo", "sort": "due"})
    board_url = reverse("boards:board", args=[team.slug])
    assert f'href="{board_url}?assignee=me"' in listing.content.decode()


@pytest.mark.parametrize("count", [10, 1000])
def test_query_count_is_constant(
    count, client_for, team, list_url, lead, member, django_assert_max_num_queries
):
    _bulk_tasks(team, count, assignee=member)
    TaskFactory.create_batch(3, team=TeamFactory())
    client = client_for(lead)
    with django_assert_max_num_queries(10):
        response = client.get(list_url)
    body = response.content.decode()
    assert body.count('href="/tasks/') == min(count, LIST_PAGE_SIZE)
    with django_assert_max_num_queries(7):
        client.get(list_url, {"page": 2}, headers={"HX-Request": "true"})


def test_page_two_starts_with_the_51st_task_and_links_keep_the_filters(
    client_for, team, list_url, lead
):
    _bulk_tasks(team, 60)
    client = client_for(lead)
    first = client.get(list_url, {"state": "todo", "q": "Task"}).content.decode()
    assert ">Task 0049</a>" in first and ">Task 0050</a>" not in first
    assert "60 tasks · 1\u201350 · page 1 of 2" in first
    assert f'href="{list_url}?q=Task&amp;state=todo&amp;page=2"' in first
    second = client.get(list_url, {"state": "todo", "q": "Task", "page": 2}).content.decode()
    assert ">Task 0050</a>" in second and ">Task 0049</a>" not in second


def test_sorting_by_title(client_for, make_task, list_url, lead):
    make_task(title="Zebra")
    make_task(title="Aardvark")
    body = client_for(lead).get(list_url, {"sort": "title"}).content.decode()
    assert body.index("Aardvark") < body.index("Zebra")


def test_a_page_past_the_end_shows_the_last(client_for, team, list_url, lead):
    _bulk_tasks(team, 60)
    response = client_for(lead).get(list_url, {"page": 99})
    assert response.status_code == 200
    assert "page 2 of 2" in response.content.decode()


@pytest.mark.parametrize(
    ("params", "sentence"),
    [
        ({"page": "abc"}, "Page: Enter a whole number."),
        ({"page": "0"}, "Page: Ensure this value is greater than or equal to 1."),
        ({"state": "exploded"}, "State: Select a valid choice."),
        ({"sort": "price"}, "Sort: Select a valid choice."),
        ({"q": "x" * 101}, "Search: Ensure this value has at most 100 characters"),
        ({"run": "9" * 30}, "Run:"),
    ],
)
def test_a_bad_parameter_is_a_400_sentence_and_the_list_without_it(
    params, sentence, client_for, make_task, list_url, lead
):
    make_task(title="Still listed")
    response = client_for(lead).get(list_url, params)
    assert response.status_code == 400
    body = response.content.decode()
    assert sentence in body and "The list is shown without it." in body
    assert "Still listed" in body


def test_over_htmx_the_rows_come_alone_and_the_address_follows(client_for, team, list_url, lead):
    _bulk_tasks(team, 60)
    response = client_for(lead).get(
        list_url, {"page": 2, "state": "todo", "assignee": ""}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="task-rows">')
    assert response["HX-Push-Url"] == f"{list_url}?state=todo&page=2"
    assert f'hx-get="{list_url}?state=todo"' in body  # page 1 and Previous


def test_a_change_shows_at_once(client_for, make_task, list_url, lead, member):
    task = make_task(title="Fresh task")
    client = client_for(lead)
    client.get(list_url)
    services.assign_to(task=task, assignee=member, by=lead)
    services.add_comment(task=task, author=lead, body="Looks good")
    body = client.get(list_url).content.decode()
    assert member.display_name in body and "1 comment" in body
