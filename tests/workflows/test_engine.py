"""The ML deployment example end to end through the services, its staging tests run by the
registered action (tests/workflows/test_external_steps.py has them reported by CI)."""

from http import HTTPStatus

import pytest

from apps.notifications.models import Kind, Notification
from apps.tasks.models import State, Task
from apps.workflows import services
from apps.workflows.models import Deployment, RunStatus

from .conftest import GOOD_INPUTS
from .helpers import finish, open_task


@pytest.fixture
def ml_template(ml_automated_template):
    """These tests exercise automated steps: staging runs its registered action here."""
    return ml_automated_template


@pytest.fixture
def run(ml_template, lead):
    return services.start_run(
        template=ml_template, title="churn-v3", owner=lead, by=lead, inputs=GOOD_INPUTS
    )


def test_starting_a_run_creates_the_start_steps_task_assigned_to_someone_skilled(run, trainer):
    task = open_task(run, "train")
    assert task.assignee == trainer
    assert task.iteration == 1
    assert [i.text for i in task.checklist.all()] == [
        "Data snapshot recorded",
        "Hyper-parameters logged",
    ]
    assert task.due_at is not None


def test_happy_path_reaches_end_through_the_automated_steps(
    run, trainer, ml_reviewer, django_capture_on_commit_callbacks
):
    finish(run, "train")
    finish(run, "evaluate", "passed")
    review = open_task(run, "review")
    assert review.assignee == ml_reviewer
    with django_capture_on_commit_callbacks(execute=True):
        finish(run, "review", "approved")
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert list(
        Task.objects.filter(run=run).order_by("pk").values_list("step__key", "outcome")
    ) == [
        ("train", "done"),
        ("evaluate", "done"),
        ("review", "approved"),
        ("staging", "passed"),
        ("deploy", "passed"),
    ]
    assert Deployment.objects.get(run=run).model_name == "churn-v3"


def test_the_runs_owner_hears_when_it_completes(run, lead, django_capture_on_commit_callbacks):
    finish(run, "train")
    finish(run, "evaluate", "passed")
    assert not Notification.objects.filter(kind=Kind.RUN_COMPLETED).exists()
    with django_capture_on_commit_callbacks(execute=True):
        finish(run, "review", "approved")
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    told = Notification.objects.get(kind=Kind.RUN_COMPLETED)
    assert told.recipient == lead and told.payload["run"] == "churn-v3"
    assert told.payload["url"] == f"/runs/{run.pk}/"


def test_the_reviewer_is_never_the_author_of_the_work(run, trainer, ml_reviewer, lead):
    finish(run, "train")
    finish(run, "evaluate", "passed")
    assert open_task(run, "review").assignee not in (trainer, None)


def _alerts(run):
    return Notification.objects.filter(kind=Kind.RUN_FAILED, run_id=run.pk)


@pytest.mark.parametrize(
    ("path", "failing"),
    [
        ([], ("evaluate", "failed")),
        ([("evaluate", "passed")], ("review", "changes_requested")),
        ([("evaluate", "passed")], ("review", "rejected")),
    ],
)
def test_each_failure_loops_back_to_train_with_iteration_2_and_alerts(
    run, trainer, ml_reviewer, lead, path, failing
):
    finish(run, "train")
    for key, outcome in path:
        finish(run, key, outcome)
    finish(run, *failing)
    again = open_task(run, "train")
    assert again.iteration == 2
    assert Task.objects.filter(run=run, step__key="train").count() == 2
    assert {n.recipient for n in _alerts(run)} == {lead}
    # Evaluate finishes "done" with its accuracy; the condition on it sends the run back.
    outcome = "done" if failing[0] == "evaluate" else failing[1]
    assert _alerts(run).first().payload["outcome"] == outcome


def test_failing_staging_tests_loop_back_to_train_with_the_error_on_the_task(
    ml_template, lead, trainer, ml_reviewer, django_capture_on_commit_callbacks
):
    low = {**GOOD_INPUTS, "metrics": {"auc": 0.7}}
    run = services.start_run(
        template=ml_template, title="churn-v4", owner=lead, by=lead, inputs=low
    )
    staging = _approve_into_staging(run, django_capture_on_commit_callbacks)
    assert staging.outcome == "failed"
    assert "auc = 0.7 < 0.85" in staging.automation_error
    assert open_task(run, "train").iteration == 2
    assert _alerts(run).filter(payload__outcome="failed").exists()


def _approve_into_staging(run, capture_on_commit) -> Task:
    """Train, evaluate and approve; the automated staging step runs when the approval commits."""
    finish(run, "train")
    finish(run, "evaluate", "passed")
    with capture_on_commit(execute=True):
        finish(run, "review", "approved")
    return Task.objects.get(run=run, step__key="staging")


def test_an_action_that_raises_counts_as_failed_and_keeps_the_error(
    ml_template, lead, trainer, ml_reviewer, django_capture_on_commit_callbacks
):
    run = services.start_run(template=ml_template, title="no thresholds", owner=lead, by=lead)
    staging = _approve_into_staging(run, django_capture_on_commit_callbacks)
    assert staging.outcome == "failed"
    assert staging.automation_error.startswith("ValueError: The run's inputs name no thresholds")


def test_reaching_max_iterations_fails_the_run_with_a_clear_reason(
    ml_template, lead, trainer, ml_reviewer
):
    ml_template.steps.filter(key="train").update(max_iterations=2)
    run = services.start_run(template=ml_template, title="flaky", owner=lead, by=lead)
    for _ in range(2):
        finish(run, "train")
        finish(run, "evaluate", "failed")
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "'Train model'" in run.failure_reason
    assert "at most 2 iterations" in run.failure_reason
    assert not Task.objects.filter(run=run, state__in=["todo", "assigned", "in_progress"]).exists()
    assert _alerts(run).filter(payload__run_failed=True, recipient=lead).exists()


def test_cancelling_a_run_cancels_its_open_tasks(run, lead):
    services.cancel_run(run=run, by=lead)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert Task.objects.get(run=run).state == State.CANCELLED


def test_a_member_who_does_not_own_the_run_cannot_cancel_it(run, trainer):
    with pytest.raises(services.WorkflowError, match="owner or a team lead") as refused:
        services.cancel_run(run=run, by=trainer)
    assert refused.value.status == HTTPStatus.FORBIDDEN
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING


def test_cancelling_a_finished_run_is_a_conflict(run, lead):
    services.cancel_run(run=run, by=lead)
    with pytest.raises(services.WorkflowError, match="already cancelled") as refused:
        services.cancel_run(run=run, by=lead)
    assert refused.value.status == HTTPStatus.CONFLICT


def test_a_review_task_offers_the_review_outcomes(run, trainer):
    from apps.tasks.services import allowed_outcomes

    finish(run, "train")
    finish(run, "evaluate", "passed")
    assert allowed_outcomes(open_task(run, "review")) == (
        "approved",
        "changes_requested",
        "rejected",
    )


def test_cancelling_a_runs_only_open_task_by_hand_fails_the_run_with_the_reason(run, lead):
    from apps.tasks import services as task_services

    task_services.cancel(task=open_task(run, "train"), by=lead)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "cancelled the task of step 'Train model'" in run.failure_reason


def test_a_steps_task_is_not_submitted_for_review_its_review_is_a_step(run, trainer):
    from apps.tasks import services as task_services

    task = task_services.start(task=open_task(run, "train"), by=trainer)
    with pytest.raises(
        task_services.TaskActionRefused, match="reviewed by the run's own review step"
    ):
        task_services.submit(task=task, by=trainer)
    task.refresh_from_db()
    assert task.state == State.IN_PROGRESS


def test_whoever_trained_or_evaluated_never_reviews_even_if_nobody_else_can(
    ml_template, lead, trainer, ml_reviewer, make_member, skills
):
    from apps.people.models import Role
    from apps.tasks import services as task_services

    from ..factories import PersonSkillFactory

    evaluator = make_member(Role.REVIEWER, username="eve", capacity=5)
    PersonSkillFactory(user=evaluator, skill=skills["ml-review"], level=5)
    PersonSkillFactory(user=evaluator, skill=skills["ml-training"], level=3)
    PersonSkillFactory(user=trainer, skill=skills["ml-review"], level=5)
    type(ml_reviewer).objects.filter(pk=ml_reviewer.pk).update(is_away=True)
    run = services.start_run(template=ml_template, title="four eyes", owner=lead, by=lead)
    finish(run, "train")
    evaluate = open_task(run, "evaluate")
    if evaluate.assignee != evaluator:
        evaluate = task_services.unassign(task=evaluate, by=lead)
        task_services.assign_to(task=evaluate, assignee=evaluator, by=lead)
    finish(run, "evaluate", "passed")
    review = open_task(run, "review")
    assert (review.state, review.assignee) == ("todo", None)


def _slow_action(*, run, task):
    from celery.exceptions import SoftTimeLimitExceeded

    raise SoftTimeLimitExceeded()


def test_an_action_that_times_out_counts_as_failed(
    ml_template, lead, trainer, ml_reviewer, settings, django_capture_on_commit_callbacks
):
    path = f"{__name__}._slow_action"
    settings.RELAY_ACTIONS = [*settings.RELAY_ACTIONS, path]
    ml_template.steps.filter(key="staging").update(action=path)
    run = services.start_run(template=ml_template, title="slow", owner=lead, by=lead)
    staging = _approve_into_staging(run, django_capture_on_commit_callbacks)
    assert staging.outcome == "failed"
    assert staging.automation_error.startswith("Timed out after")
    assert open_task(run, "train").iteration == 2


def test_a_loop_back_alert_reads_as_sent_back_with_the_run_and_reason(run, trainer, lead):
    from apps.notifications.services.emails import build_email

    finish(run, "train")
    finish(run, "evaluate", "failed")
    alert = _alerts(run).get()
    assert alert.label == "Run sent back"
    email = build_email(notification=alert)
    assert email.subject == f"[Relay] Run sent back: {run.title}"
    assert (
        "Evaluate finished done; the run loops back. Not met: accuracy >= inputs.threshold "
        "(accuracy = 0.5, inputs.threshold = 0.9)." in email.body
    )


def test_only_team_members_start_a_run(ml_template, outsider):
    with pytest.raises(services.WorkflowError, match="Only members of") as refused:
        services.start_run(template=ml_template, title="theirs", owner=outsider, by=outsider)
    assert refused.value.status == HTTPStatus.FORBIDDEN
    assert not ml_template.runs.exists()
