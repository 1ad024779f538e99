"""A step's checklist is its completion criteria: which items are required travels from the
step (admin textarea, import/export) onto each task the step creates, and an automated step,
which nobody ticks, is never held up by it."""

import pytest

from apps.people.system import automation_user
from apps.tasks import services as task_services
from apps.tasks.models import State, Task
from apps.workflows import definitions, exchange, services
from apps.workflows.models import Step

from .conftest import GOOD_INPUTS
from .helpers import finish, open_task, with_automated_staging

pytestmark = pytest.mark.django_db


def entries(task):
    return list(task.checklist.values_list("text", "required", "done"))


def test_a_line_starting_with_a_star_is_a_required_item():
    step = Step(checklist="* Tests pass\n\nScreenshots attached\n  *Docs updated  \n*\n")
    assert step.checklist_entries == [
        ("Tests pass", True),
        ("Screenshots attached", False),
        ("Docs updated", True),
    ]
    assert step.checklist_items == ["Tests pass", "Screenshots attached", "Docs updated"]


def test_the_steps_task_gets_its_required_items(ml_template, lead):
    run = services.start_run(template=ml_template, title="v3", owner=lead, by=lead)
    assert entries(open_task(run, "train")) == [
        ("Data snapshot recorded", True, False),
        ("Hyper-parameters logged", False, False),
    ]


def test_a_steps_task_cannot_be_completed_until_its_required_items_are_ticked(
    ml_template, lead, trainer
):
    run = services.start_run(template=ml_template, title="v3", owner=lead, by=lead)
    task = open_task(run, "train")
    task = task_services.start(task=task, by=task.assignee)
    with pytest.raises(
        task_services.TaskActionRefused,
        match=r"^Tick the required items first: Data snapshot recorded\.$",
    ):
        task_services.complete(task=task, by=task.assignee)
    assert finish(run, "train").state == State.DONE  # ticked, then completed
    assert open_task(run, "evaluate")


def test_an_automated_step_finishes_with_its_required_items_unticked(
    team, skills, trainer, ml_reviewer, lead, django_capture_on_commit_callbacks
):
    document = with_automated_staging(definitions.ML_DEPLOYMENT)
    staging = next(s for s in document["steps"] if s["key"] == "staging")
    staging["checklist"] = [{"text": "Metrics meet thresholds", "required": True}]
    template = exchange.import_template(document, team=team)
    run = services.start_run(template=template, title="v3", owner=lead, by=lead, inputs=GOOD_INPUTS)
    finish(run, "train")
    finish(run, "evaluate", "passed")
    with django_capture_on_commit_callbacks(execute=True):
        finish(run, "review", "approved")
    task = Task.objects.get(run=run, step__key="staging")
    assert (task.state, task.outcome) == (State.DONE, "passed")
    assert entries(task) == [("Metrics meet thresholds", True, False)]


def test_relay_automation_is_not_held_to_a_manual_steps_criteria(ml_template, lead):
    # An external system reporting a result acts as Relay automation: it ticks nothing.
    run = services.start_run(template=ml_template, title="v3", owner=lead, by=lead)
    task = task_services.start(task=open_task(run, "train"), by=lead)
    done = task_services.complete(task=task, by=automation_user())
    assert done.state == State.DONE


def test_export_carries_which_items_are_required(ml_template):
    train = exchange.export_template(ml_template)["steps"][0]
    assert train["checklist"] == [
        {"text": "Data snapshot recorded", "required": True},
        "Hyper-parameters logged",
    ]


def test_export_then_import_keeps_the_required_items(ml_template, team):
    document = exchange.export_template(ml_template)
    document["slug"] = "copy"
    copied = exchange.import_template(document, team=team)
    assert [s.checklist_entries for s in copied.steps.all()] == [
        s.checklist_entries for s in ml_template.steps.all()
    ]


def test_an_older_document_of_plain_texts_still_imports(team, skills, definition):
    for step in definition["steps"]:
        step["checklist"] = [
            item if isinstance(item, str) else item["text"] for item in step.get("checklist", [])
        ]
    template = exchange.import_template(definition, team=team)
    train = template.steps.get(key="train")
    assert train.checklist_entries == [
        ("Data snapshot recorded", False),
        ("Hyper-parameters logged", False),
    ]


@pytest.mark.parametrize(
    "item",
    [{"text": "Tests pass", "required": "yes"}, {"required": True}, {"text": "x", "due": 1}, 7],
)
def test_a_malformed_checklist_item_is_refused_and_says_how(team, skills, definition, item):
    definition["steps"][0]["checklist"] = ["Fine", item]
    with pytest.raises(services.WorkflowError) as refused:
        exchange.import_template(definition, team=team)
    assert (
        "Step 'train': 'checklist' must be a list of texts, or of "
        '{"text": ..., "required": true} for an item that must be ticked.'
    ) in refused.value.problems


def test_an_over_long_required_item_is_refused(team, skills, definition):
    definition["steps"][0]["checklist"] = [{"text": "c" * 301, "required": True}]
    with pytest.raises(services.WorkflowError) as refused:
        exchange.import_template(definition, team=team)
    assert (
        "Step 'train': checklist: item 1 has 301 characters; keep each item to at most 300."
    ) in refused.value.problems


def test_the_shipped_templates_mark_required_items():
    required = {
        (d["slug"], s["key"]): [i["text"] for i in s.get("checklist", []) if isinstance(i, dict)]
        for d in definitions.ALL
        for s in d["steps"]
    }
    assert required[("ml-deployment", "train")] == ["Data snapshot recorded"]
    assert required[("ci-cd-release", "smoke")] == ["Login works", "Checkout works"]
    # A review is decided, not ticked off: its items stay optional.
    assert required[("ml-deployment", "review")] == []
