"""The board's grid is cached per team version and shared by everyone with the same filters;
what is one person's — the WIP-limits control, their saved views, the moves a card offers
them, the "assigned to me" filter — never comes from someone else's request, warm or cold."""

import pytest
from django.urls import reverse

from apps.boards import fragments
from apps.boards.models import SavedView
from apps.tasks import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def board_url(team):
    return reverse("boards:board", args=[team.slug])


def _menu(client, task):
    return client.get(reverse("boards:card_menu", args=[task.pk])).content.decode()


@pytest.mark.parametrize("first", ["lead", "member"])
def test_a_lead_and_a_member_see_their_own_controls_after_the_cache_is_warm(
    first, client, board_url, team, lead, member, task
):
    services.assign_to(task=task, assignee=member, by=lead)
    SavedView.objects.create(owner=lead, team=team, name="Leads only view", query="due=soon")
    people = {"lead": lead, "member": member}
    order = [first, *(name for name in people if name != first)]
    pages = {}
    for name in order:  # the first warms the grid, the second is served from it
        client.force_login(people[name])
        pages[name] = (client.get(board_url).content.decode(), _menu(client, task))
    lead_page, lead_menu = pages["lead"]
    member_page, member_menu = pages["member"]
    assert "Train churn model" in lead_page and "Train churn model" in member_page
    assert "WIP limits" in lead_page
    assert "WIP limits" not in member_page
    assert "Leads only view" in lead_page
    assert "Leads only view" not in member_page
    # The assignee starts their work; the lead may cancel it, the member may not.
    assert "Start" in member_menu
    assert "Cancel" in lead_menu
    assert "Cancel" not in member_menu


def test_assigned_to_me_shows_each_person_their_own_cards(
    client, board_url, team, lead, member, other_member, make_task
):
    services.assign_to(task=make_task(title="Card of Mia"), assignee=member, by=lead)
    services.assign_to(task=make_task(title="Card of Otto"), assignee=other_member, by=lead)
    mine = board_url + "?assignee=me"
    client.force_login(member)
    assert "Card of Mia" in client.get(mine).content.decode()
    client.force_login(other_member)
    page = client.get(mine).content.decode()
    assert "Card of Otto" in page
    assert "Card of Mia" not in page


def test_the_second_view_of_an_unchanged_board_reads_no_cards(
    client_for, board_url, member, make_task, django_assert_max_num_queries, monkeypatch
):
    for n in range(30):
        make_task(title=f"Card {n}")
    client = client_for(member)
    first = client.get(board_url).content.decode()
    with django_assert_max_num_queries(5) as captured:
        second = client.get(board_url).content.decode()
    assert not [q for q in captured.captured_queries if '"tasks_task"' in q["sql"]]
    assert first.count('class="card-item') == second.count('class="card-item') == 30
    monkeypatch.setattr(fragments, "KEY_PREFIX", "board-emptied")  # rendered again: the same
    assert client.get(board_url).content.decode().count('class="card-item') == 30
