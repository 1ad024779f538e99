"""Board parameters out of any database's range, or not numbers at all, never reach SQL: the
board shows without the bad filter, a bad page of cards is a 400 saying why, and a bad card
order is refused with a sentence and moves nothing."""

import pytest
from django.urls import reverse

from apps.tasks.models import Task

from .conftest import htmx, move_url

HUGE = "9" * 30


@pytest.mark.parametrize("run", [HUGE, str(2**31), "²"])
def test_a_run_filter_no_run_can_have_shows_the_unfiltered_board(
    client_for, member, board_url, make_task, run
):
    make_task(title="Visible card")
    response = client_for(member).get(board_url, {"run": run})
    assert response.status_code == 200
    assert "Visible card" in response.content.decode()


@pytest.mark.parametrize("task", [HUGE, "²"])
def test_a_task_to_open_that_no_task_can_be_opens_no_drawer(client_for, member, board_url, task):
    response = client_for(member).get(board_url, {"task": task})
    assert response.status_code == 200
    assert "has-drawer" not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ({"state": "todo", "offset": HUGE}, "less than or equal to 2147483647"),
        ({"state": "todo", "lane": HUGE}, "less than or equal to 2147483647"),
        ({"state": "todo", "offset": "-5"}, "greater than or equal to 0"),
        ({"state": "todo", "offset": "²"}, "Enter a whole number."),
        ({"state": "nowhere"}, "Select a valid choice."),
    ],
)
def test_a_page_of_cards_out_of_range_is_a_400_saying_why(
    client_for, member, team, make_task, query, sentence
):
    make_task(title="A card")
    response = client_for(member).get(reverse("boards:more_cards", args=[team.slug]), query)
    assert response.status_code == 400
    assert sentence in response.content.decode()


@pytest.mark.parametrize("order", [HUGE, f"1,{2**31}", "-1", ",".join(["1"] * 501)])
def test_a_card_order_of_impossible_ids_is_refused_and_moves_nothing(
    client_for, member, make_task, order
):
    a = make_task(title="a")
    make_task(title="b")
    before = list(Task.objects.order_by("pk").values_list("pk", "position", "state"))
    response = htmx(client_for(member), "post", move_url(a), {"action": "reorder", "order": order})
    assert response.status_code == 422
    assert "card order" in response.content.decode() or "At most 500" in response.content.decode()
    assert list(Task.objects.order_by("pk").values_list("pk", "position", "state")) == before


def test_filters_from_the_page_a_move_came_from_are_bounded_too(client_for, member, make_task):
    a = make_task(title="a")
    response = htmx(
        client_for(member),
        "post",
        move_url(a),
        {"action": "reorder", "order": str(a.pk)},
        current_url=f"http://testserver/teams/data-science/board/?run={HUGE}",
    )
    assert response.status_code == 200
