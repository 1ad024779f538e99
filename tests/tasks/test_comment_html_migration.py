"""Comments written before Markdown get their HTML once, when the migration runs."""

import pytest

from ..factories import TeamFactory
from ..migrations import migrate

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("tasks", "0004_distinct_column_positions")]
AFTER = [("tasks", "0005_comment_html_and_task_watches")]


def test_existing_comments_are_rendered_by_the_migration(latest):
    team = TeamFactory()
    old = migrate(BEFORE)
    task = old.get_model("tasks", "Task").objects.create(team_id=team.pk, title="x", position=1)
    old.get_model("tasks", "Comment").objects.create(task=task, body="**old** <b>raw</b>")

    new = migrate(AFTER)
    (html,) = new.get_model("tasks", "Comment").objects.values_list("body_html", flat=True)
    assert html == "<p><strong>old</strong> &lt;b&gt;raw&lt;/b&gt;</p>\n"
