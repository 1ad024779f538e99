"""Every card has a place of its own in its column: new tasks at the bottom, and the migration
numbering what was there before in the order the board showed it."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection

from apps.boards import services as board_services
from apps.tasks import services
from apps.tasks.models import State, Task
from apps.tasks.positions import FIRST_POSITION

from ..factories import TaskFactory, TeamFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("apps.tasks.migrations.0004_distinct_column_positions")


def _column(team, state=State.TODO) -> list[str]:
    return [
        t.title
        for t in Task.objects.filter(team=team, state=state).order_by("position", "-priority", "id")
    ]


def test_new_tasks_go_to_the_bottom_of_to_do_each_in_a_place_of_its_own(team, make_task):
    made = [make_task(title=f"t{i}", priority=1 + i % 4) for i in range(5)]
    assert [t.position for t in made] == list(range(FIRST_POSITION, FIRST_POSITION + 5))
    assert _column(team) == ["t0", "t1", "t2", "t3", "t4"]  # not reshuffled by priority


def test_a_new_task_lands_below_the_cards_people_arranged(team, make_task):
    make_task(title="a")
    b = make_task(title="b")
    board_services.reorder(team=team, state=State.TODO, ordered_ids=[b.pk])
    make_task(title="new")
    assert _column(team) == ["b", "a", "new"]


def test_a_new_task_counts_only_its_own_column(team, make_task, lead, member):
    waiting = make_task(title="waiting")
    elsewhere = make_task(title="moved on")
    services.assign_to(task=elsewhere, assignee=member, by=lead)
    Task.objects.filter(pk=elsewhere.pk).update(position=FIRST_POSITION + 500)
    assert make_task(title="next").position == waiting.position + 1
    other_team = TeamFactory()
    assert make_task(title="first", team=other_team).position == FIRST_POSITION


def test_a_drop_on_top_of_a_new_column_leaves_the_others_where_they_are(team, make_task):
    cards = [make_task(title=f"t{i}") for i in range(3)]
    board_services.reorder(team=team, state=State.TODO, ordered_ids=[cards[2].pk])
    positions = dict(Task.objects.filter(team=team).values_list("title", "position"))
    assert positions == {"t2": FIRST_POSITION - 1, "t0": FIRST_POSITION, "t1": FIRST_POSITION + 1}


def test_the_position_costs_no_query_of_its_own(team, make_task, django_assert_num_queries):
    make_task(title="first")
    # The transaction's savepoint, the team and creator checks of full_clean, the INSERT
    # (which computes the position) and the savepoint's release.
    with django_assert_num_queries(5):
        make_task(title="second")


def _old_board_layout():
    """Two teams, as every task had position 0 and a few were dragged: ties ordered by
    priority then id, done and open columns alike."""
    first, second = TeamFactory(), TeamFactory()
    rows = [
        (first, State.TODO, 0, 2),
        (first, State.TODO, 0, 4),
        (first, State.TODO, 0, 2),
        (first, State.TODO, 3, 1),
        (first, State.ASSIGNED, 0, 2),
        (first, State.ASSIGNED, 0, 3),
        (second, State.TODO, 0, 2),
        (first, State.DONE, 7, 2),
    ]
    for team, state, position, priority in rows:
        TaskFactory(team=team, state=state, position=position, priority=priority)
    return first, second


def _columns():
    order = ("team_id", "state", "position", "-priority", "id")
    columns: dict = {}
    for team_id, state, pk, position in Task.objects.order_by(*order).values_list(
        "team_id", "state", "pk", "position"
    ):
        columns.setdefault((team_id, state), []).append((pk, position))
    return columns


@pytest.mark.parametrize("path", ["one UPDATE", "row by row"])
def test_the_migration_numbers_each_column_in_the_order_the_board_showed(path):
    _old_board_layout()
    before = {column: [pk for pk, _ in cards] for column, cards in _columns().items()}

    if path == "one UPDATE":
        # All it uses of the schema editor is its connection.
        migration.number_columns(django_apps, SimpleNamespace(connection=connection))
    else:
        migration._number_columns_row_by_row(Task)

    after = _columns()
    assert {column: [pk for pk, _ in cards] for column, cards in after.items()} == before
    for cards in after.values():
        assert [p for _, p in cards] == list(range(FIRST_POSITION, FIRST_POSITION + len(cards)))
