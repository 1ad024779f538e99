"""The run page says why: each task's recorded outputs, the route it took and the condition
that chose it, the checks that failed on a loop-back and the doer's note."""

import pytest

from apps.tasks import services as task_services
from apps.workflows import services
from apps.workflows.models import RouteTaken, Step

from ..html import text_of, texts_of
from .helpers import finish, open_task

ACCURACY = [{"name": "accuracy", "type": "number", "label": "Hold-out accuracy", "required": True}]


@pytest.fixture
def run(ml_template, lead):
    Step.objects.filter(template=ml_template, key="evaluate").update(output_fields=ACCURACY)
    return services.start_run(
        template=ml_template, title="churn-v3", owner=lead, by=lead, inputs={"threshold": 0.9}
    )


def evaluate_below_threshold(run, note="Overfits on fold 3."):
    """Train, then evaluate with accuracy 0.81 < 0.9: the run loops back to train. What the
    engine records for it (RouteTaken) is written here as the engine writes it."""
    finish(run, "train")
    evaluate = open_task(run, "evaluate")
    if evaluate.state == "assigned":
        evaluate = task_services.start(task=evaluate, by=evaluate.assignee)
    for item in evaluate.checklist.filter(required=True):
        task_services.toggle_checklist_item(item=item, by=evaluate.assignee, done=True)
    evaluate.outputs = {"accuracy": 0.81}
    evaluate.save(update_fields=["outputs"])
    evaluate = task_services.complete(
        task=evaluate, by=evaluate.assignee, outcome="failed", note=note
    )
    train = run.template.steps.get(key="train")
    RouteTaken.objects.create(
        run=run,
        task=evaluate,
        outcome="failed",
        to_step=train,
        condition="",
        values={"accuracy": 0.81, "inputs.threshold": 0.9},
        failed_checks=["accuracy >= inputs.threshold"],
        is_loop_back=True,
        note=note,
    )
    return evaluate


def test_the_run_page_shows_a_tasks_outputs_with_the_steps_labels(client_for, lead, run):
    evaluate = evaluate_below_threshold(run)
    html = client_for(lead).get(run.get_absolute_url()).content.decode()
    assert text_of(html, testid=f"why-{evaluate.pk}").startswith("Hold-out accuracy 0.81")


def test_a_loop_back_shows_which_check_failed_with_the_values_it_read(client_for, lead, run):
    evaluate = evaluate_below_threshold(run)
    html = client_for(lead).get(run.get_absolute_url()).content.decode()
    why = text_of(html, testid=f"why-{evaluate.pk}")
    assert "↩ The run loops back to Train model" in why
    assert texts_of(html, testid="failed-check") == [
        "Failed check: accuracy >= inputs.threshold (accuracy = 0.81, inputs.threshold = 0.9)"
    ]


def test_a_loop_back_shows_the_doers_note(client_for, lead, run):
    evaluate = evaluate_below_threshold(run, note="Overfits on fold 3.")
    html = client_for(lead).get(run.get_absolute_url()).content.decode()
    assert texts_of(html, testid="note") == [
        f"{evaluate.assignee.display_name}: Overfits on fold 3."
    ]


def test_a_route_chosen_by_a_condition_names_it_and_the_values_it_read(client_for, lead, run):
    finish(run, "train")
    evaluate = finish(run, "evaluate", "passed")
    RouteTaken.objects.create(
        run=run,
        task=evaluate,
        outcome="passed",
        to_step=run.template.steps.get(key="review"),
        condition="accuracy >= inputs.threshold",
        values={"accuracy": 0.93, "inputs.threshold": 0.9},
    )
    html = client_for(lead).get(run.get_absolute_url()).content.decode()
    assert text_of(html, testid=f"why-{evaluate.pk}") == (
        "→ The run goes on to Peer review because accuracy >= inputs.threshold "
        "· read accuracy = 0.93, inputs.threshold = 0.9"
    )
    assert texts_of(html, testid="failed-check") == []


def test_a_run_recorded_before_routes_were_kept_is_told_from_the_template(client_for, lead, run):
    finish(run, "train")
    train = open_task(run, "evaluate").run.tasks.get(step__key="train")
    html = client_for(lead).get(run.get_absolute_url()).content.decode()
    assert text_of(html, testid=f"why-{train.pk}") == "→ The run goes on to Evaluate"


@pytest.mark.parametrize("loops", [1, 4])
def test_the_run_page_costs_the_same_queries_however_many_loop_backs_it_explains(
    client_for, lead, run, django_assert_max_num_queries, loops
):
    for i in range(loops):
        evaluate_below_threshold(run, note=f"Attempt {i + 1} overfits.")
    client = client_for(lead)
    with django_assert_max_num_queries(9):
        response = client.get(run.get_absolute_url())
    assert len(texts_of(response, testid="failed-check")) == loops
    assert texts_of(response, testid="note")[-1].endswith(f": Attempt {loops} overfits.")
