"""Adding `required` to checklist items keeps every existing item, none of them required: a
task in flight is not suddenly held up by criteria nobody marked."""

import pytest

from ..factories import TeamFactory
from ..migrations import migrate

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("tasks", "0008_task_field_changes")]
AFTER = [("tasks", "0009_checklist_item_required")]


def test_existing_items_stay_and_are_not_required(latest):
    team = TeamFactory()
    old = migrate(BEFORE)
    task = old.get_model("tasks", "Task").objects.create(team_id=team.pk, title="In flight")
    old.get_model("tasks", "ChecklistItem").objects.create(task=task, text="Tests pass", done=True)
    old.get_model("tasks", "ChecklistItem").objects.create(task=task, text="Docs updated")

    ChecklistItem = migrate(AFTER).get_model("tasks", "ChecklistItem")

    assert list(ChecklistItem.objects.values_list("text", "done", "required")) == [
        ("Tests pass", True, False),
        ("Docs updated", False, False),
    ]
