"""The seed's ML example driven by data: Evaluate records the model's accuracy, and the run
goes on to peer review only if `accuracy >= inputs.threshold`, else back to training."""

import pytest

from apps.core.refusals import Refused
from apps.notifications.models import Kind, Notification
from apps.tasks import services as task_services
from apps.tasks.models import Task
from apps.workflows import services
from apps.workflows.models import RouteTaken, RunStatus, Step

from .helpers import finish, open_task, tick_required

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(ml_template, lead):
    return services.start_run(
        template=ml_template, title="churn-v9", owner=lead, by=lead, inputs={"threshold": 0.9}
    )


def _evaluate(run, accuracy):
    finish(run, "train")
    return finish(run, "evaluate", {"accuracy": accuracy})


def test_accuracy_at_or_above_the_threshold_goes_to_peer_review(run):
    task = _evaluate(run, 0.93)
    assert task.outputs == {"accuracy": 0.93}
    assert open_task(run, "review")
    taken = RouteTaken.objects.get(task=task)
    assert (taken.to_step.key, taken.condition, taken.is_loop_back) == (
        "review",
        "accuracy >= inputs.threshold",
        False,
    )
    assert taken.values == {"accuracy": 0.93, "inputs.threshold": 0.9}
    assert not Notification.objects.filter(kind=Kind.RUN_FAILED, run_id=run.pk).exists()


def test_accuracy_below_the_threshold_loops_back_to_train_with_an_alert(run, lead):
    task = _evaluate(run, 0.82)
    again = open_task(run, "train")
    assert again.iteration == 2
    taken = RouteTaken.objects.get(task=task)
    assert (taken.to_step.key, taken.condition, taken.is_loop_back) == ("train", "", True)
    assert taken.failed_checks == ["accuracy >= inputs.threshold"]
    alert = Notification.objects.get(kind=Kind.RUN_FAILED, run_id=run.pk, recipient=lead)
    assert "Not met: accuracy >= inputs.threshold (accuracy = 0.82" in alert.payload["reason"]


def test_the_threshold_is_the_runs_own_input(ml_template, lead):
    run = services.start_run(
        template=ml_template, title="lenient", owner=lead, by=lead, inputs={"threshold": 0.8}
    )
    _evaluate(run, 0.82)
    assert open_task(run, "review")


def test_a_staging_failure_loops_back_to_train(run, lead):
    _evaluate(run, 0.95)
    finish(run, "review", "approved")
    staging = open_task(run, "staging")
    services.report_external_result(
        task=staging,
        outcome="failed",
        message="AUC 0.71 on staging",
        caller=services.TeamCaller(team=run.team),
    )
    assert open_task(run, "train").iteration == 2
    taken = RouteTaken.objects.get(task=staging)
    assert taken.is_loop_back and taken.outcome == "failed"


def test_max_iterations_stops_the_run(run):
    Step.objects.filter(template=run.template, key="train").update(max_iterations=2)
    _evaluate(run, 0.5)
    _evaluate(run, 0.5)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "allows at most 2 iterations" in run.failure_reason
    assert Task.objects.filter(run=run, step__key="train").count() == 2


def test_evaluate_cannot_be_finished_without_its_accuracy(run):
    finish(run, "train")
    task = open_task(run, "evaluate")
    task = task_services.start(task=task, by=task.assignee)
    tick_required(task)
    for outputs, sentence in (
        ({}, "Accuracy (accuracy) is required: fill it in."),
        ({"accuracy": "high"}, "Accuracy (accuracy): 'high' is not a number."),
        ({"accuracy": 0.9, "acc": 1}, "'acc' is not one of the fields here (accuracy)."),
    ):
        with pytest.raises(Refused) as refused:
            services.finish_step(task=task, by=task.assignee, outputs=outputs)
        assert sentence in str(refused.value)
        task.refresh_from_db()
        assert (task.state, task.outputs) == ("in_progress", {})


def test_a_condition_that_cannot_be_decided_fails_the_run_with_the_sentence(run, lead):
    run.template.routes.filter(from_step__key="evaluate", position=0).update(
        condition="evaluate.missing >= 1"
    )
    _evaluate(run, 0.95)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "'evaluate.missing' has no value in this run" in run.failure_reason
