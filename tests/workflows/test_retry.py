"""A lead retries a failed run from the step it failed at: running again, a new task for that
step (iteration + 1, within its max_iterations), the retry in the run's history."""

import pytest
from django.urls import reverse

from apps.api.testing import personal_token_for_tests
from apps.tasks import services as task_services
from apps.workflows import services
from apps.workflows.explain import WHY_HEADING
from apps.workflows.models import RunEvent, RunStatus, Step

from ..html import text_of, texts_of
from .helpers import finish, open_task


@pytest.fixture
def run(ml_template, lead):
    return services.start_run(template=ml_template, title="churn-v3", owner=lead, by=lead)


def fail_at_evaluate(run, lead):
    """The lead cancels Evaluate's task: nothing is left to do, so the run fails there."""
    finish(run, "train")
    task_services.cancel(task=open_task(run, "evaluate"), by=lead, note="Wrong hold-out set.")
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    return run


def retry_url(run):
    return reverse("workflows:run_retry", args=[run.pk])


def test_a_lead_retries_a_failed_run_from_the_failed_step(client_for, lead, run):
    fail_at_evaluate(run, lead)
    response = client_for(lead).post(retry_url(run), {"note": "Hold-out set fixed."})
    assert response.status_code == 302
    run.refresh_from_db()
    assert (run.status, run.failure_reason, run.finished_at) == (RunStatus.RUNNING, "", None)
    evaluate = open_task(run, "evaluate")
    assert evaluate.iteration == 2
    assert evaluate.description.splitlines()[:3] == [
        WHY_HEADING,
        f"{lead.display_name} retried the run from this step after it failed: "
        f"{lead.display_name} cancelled the task of step 'Evaluate', so nothing was left to do.",
        f"Note from {lead.display_name}: “Hold-out set fixed.”",
    ]


def test_the_retry_is_in_the_run_history_with_who(client_for, lead, run):
    fail_at_evaluate(run, lead)
    client = client_for(lead)
    client.post(retry_url(run), {"note": "Hold-out set fixed."})
    html = client.get(run.get_absolute_url()).content.decode()
    [event] = texts_of(html, testid="run-event")
    assert f"{lead.display_name} retried the run from step Evaluate after it failed" in event
    assert event.endswith("Hold-out set fixed.")
    assert RunEvent.objects.get(run=run).by == lead


def test_the_failed_runs_page_offers_a_lead_the_retry(client_for, lead, trainer, run):
    fail_at_evaluate(run, lead)
    assert "Retry from “Evaluate”" in text_of(
        client_for(lead).get(run.get_absolute_url()).content.decode(), testid="retry-form"
    )
    assert 'data-testid="retry-form"' not in (
        client_for(trainer).get(run.get_absolute_url()).content.decode()
    )


def test_a_member_may_not_retry(client_for, lead, trainer, run):
    fail_at_evaluate(run, lead)
    response = client_for(trainer).post(retry_url(run))
    assert response.status_code == 403
    assert "Only a team lead can retry a failed run." in text_of(response, class_="error")
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert not RunEvent.objects.exists()


def test_a_running_run_is_not_retried(client_for, lead, run):
    response = client_for(lead).post(retry_url(run))
    assert response.status_code == 409
    assert "Only a failed run can be retried; this one is running." in text_of(
        response, class_="error"
    )
    assert run.tasks.count() == 1


def test_a_retry_respects_the_steps_max_iterations(client_for, lead, run):
    Step.objects.filter(template=run.template, key="evaluate").update(max_iterations=1)
    fail_at_evaluate(run, lead)
    response = client_for(lead).post(retry_url(run))
    assert response.status_code == 409
    assert (
        "Step 'Evaluate' already ran 1 time, the most it allows: a retry would run it once "
        "more. Start a new run instead."
    ) in text_of(response, class_="error")
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.tasks.filter(step__key="evaluate").count() == 1


def test_a_run_stopped_by_max_iterations_names_the_step_it_would_have_run(lead, run):
    Step.objects.filter(template=run.template, key="train").update(max_iterations=1)
    finish(run, "train")
    finish(run, "evaluate", "failed")
    run.refresh_from_db()
    assert (run.status, run.failed_step.key) == (RunStatus.FAILED, "train")
    with pytest.raises(services.WorkflowError, match="already ran 1 time") as refused:
        services.retry_run(run=run, by=lead)
    assert refused.value.status == 409


def test_a_lead_retries_through_the_api(client, lead, run):
    fail_at_evaluate(run, lead)
    auth = {"Authorization": f"Bearer {personal_token_for_tests(lead)}"}
    assert client.get(f"/api/v1/runs/{run.pk}", headers=auth).json()["failed_step"] == "evaluate"
    response = client.post(
        f"/api/v1/runs/{run.pk}/retry",
        {"note": "fixed"},
        content_type="application/json",
        headers=auth,
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "running"
    assert (body["current_steps"], body["failed_step"]) == (["evaluate"], None)
