"""The WIP limits' move from the board (boards.BoardSettings) to the tasks keeps every team's
limits, both ways."""

import pytest

from ..factories import TeamFactory
from ..migrations import migrate

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("boards", "0001_board_settings_and_saved_views"), ("tasks", "0002_task_run_step")]
AFTER = [
    ("boards", "0002_board_settings_moved_to_tasks"),
    ("tasks", "0003_wip_limits_from_board_settings"),
]


def test_moving_the_limits_to_the_tasks_keeps_every_teams_limits(latest):
    hard, soft, unset = TeamFactory(), TeamFactory(), TeamFactory()
    old = migrate(BEFORE)
    BoardSettings = old.get_model("boards", "BoardSettings")
    BoardSettings.objects.create(team_id=hard.pk, wip_limits={"in_progress": 2})
    BoardSettings.objects.create(
        team_id=soft.pk, wip_limits={"assigned": 5, "in_review": 1}, soft_limits=True
    )

    WipLimits = migrate(AFTER).get_model("tasks", "WipLimits")

    assert {w.team_id: (w.limits, w.soft) for w in WipLimits.objects.all()} == {
        hard.pk: ({"in_progress": 2}, False),
        soft.pk: ({"assigned": 5, "in_review": 1}, True),
    }
    assert not WipLimits.objects.filter(team_id=unset.pk).exists()


def test_going_back_puts_the_limits_on_the_board_again(latest):
    team = TeamFactory()
    WipLimits = migrate(AFTER).get_model("tasks", "WipLimits")
    WipLimits.objects.create(team_id=team.pk, limits={"in_review": 3}, soft=True)

    BoardSettings = migrate(BEFORE).get_model("boards", "BoardSettings")

    settings = BoardSettings.objects.get(team_id=team.pk)
    assert (settings.wip_limits, settings.soft_limits) == ({"in_review": 3}, True)
