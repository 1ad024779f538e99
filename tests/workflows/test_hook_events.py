"""The run engine's webhook events: started, looped back, finished, each with its payload."""

import pytest

from apps.hooks.models import Delivery, Event, Webhook
from apps.workflows import services

from .conftest import GOOD_INPUTS
from .helpers import finish


@pytest.fixture
def hook(team, lead, settings):
    settings.RELAY_WEBHOOKS_ALLOW_PRIVATE = True
    return Webhook.objects.create(
        team=team, url="http://127.0.0.1:8831/x", events=[str(e) for e in Event], created_by=lead
    )


def events_of(hook, event):
    return [d.payload["data"] for d in Delivery.objects.filter(webhook=hook, event=event)]


@pytest.fixture
def run(ml_template, lead, hook):
    return services.start_run(
        template=ml_template, title="churn-v3", owner=lead, by=lead, inputs=GOOD_INPUTS
    )


def test_starting_a_run_reports_run_started_with_the_template_and_owner(run, hook, lead):
    [data] = events_of(hook, Event.RUN_STARTED)
    assert data["run"]["id"] == run.pk
    assert data["run"]["status"] == "running"
    assert data["run"]["template"]["slug"] == run.template.slug
    assert data["run"]["owner"]["username"] == lead.username
    assert data["run"]["url"].endswith(f"/runs/{run.pk}/")
    assert data["by"]["id"] == lead.pk


def test_a_failed_evaluation_reports_the_loop_back_to_train(run, hook, trainer):
    finish(run, "train")
    finish(run, "evaluate", "failed")  # accuracy below the run's threshold
    [data] = events_of(hook, Event.RUN_LOOPED_BACK)
    assert data["outcome"] == "done"
    assert "Not met: accuracy >= inputs.threshold" in data["reason"]
    assert data["from"]["step"]["key"] == "evaluate"
    assert [t["step"]["key"] for t in data["to"]] == ["train"]
    assert data["to"][0]["iteration"] == 2
    assert "loops back" in data["reason"]
    assert events_of(hook, Event.RUN_FINISHED) == []


def test_cancelling_a_run_reports_it_finished_cancelled(run, hook, lead):
    services.cancel_run(run=run, by=lead, note="wrong data")
    [data] = events_of(hook, Event.RUN_FINISHED)
    assert data["run"]["status"] == "cancelled"
    assert data["run"]["failure_reason"] == "wrong data"
    assert data["run"]["finished_at"] is not None
    cancelled = [
        d for d in events_of(hook, Event.TASK_TRANSITIONED) if d["transition"]["to"] == "cancelled"
    ]
    assert cancelled and all(d["task"]["run_id"] == run.pk for d in cancelled)


def test_every_transition_of_the_run_is_reported_in_order(run, hook, trainer):
    finish(run, "train")
    moves = [
        (d["task"]["step"]["key"], d["transition"]["name"])
        for d in reversed(events_of(hook, Event.TASK_TRANSITIONED))
    ]
    assert moves[:3] == [("train", "assign"), ("train", "start"), ("train", "complete")]


def test_a_team_without_hooks_writes_no_deliveries(ml_template, lead, trainer):
    run = services.start_run(template=ml_template, title="x", owner=lead, by=lead)
    finish(run, "train")
    assert not Delivery.objects.exists()
