"""The ML run end to end through the API only: a lead imports the template and starts the run,
the data scientist and the reviewer take their steps by transitions, the CI job's script reports
staging failed (the run loops back to train and the owner is alerted), then passed, and the
automated deploy finishes the run.

The API has no endpoint to tick checklist items, so the template is imported without its
required ones (the people's steps could not be completed otherwise): everything else is the
shipped ML template.
"""

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.workflows import definitions

from .conftest import personal_token_for_tests, service_token_for_tests

ROOT = Path(__file__).resolve().parents[2]
OPEN = {"todo", "assigned", "in_progress", "in_review"}


def _without_required_items(document: dict) -> dict:
    document = copy.deepcopy(document)
    for step in document["steps"]:
        step["checklist"] = [
            item["text"] if isinstance(item, dict) else item for item in step.get("checklist", [])
        ]
    return document


def _script(live_server, token, *args):
    env = {**os.environ, "RELAY_URL": live_server.url, "RELAY_TOKEN": token}
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "report-step"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.django_db(transaction=True)
def test_the_ml_run_through_the_api_with_ci_reporting_staging(
    api, live_server, team, skills, trainer, ml_reviewer, lead
):
    as_lead = personal_token_for_tests(lead)
    as_trainer = personal_token_for_tests(trainer)
    as_reviewer = personal_token_for_tests(ml_reviewer)
    ci = service_token_for_tests(team)

    def call(secret, path, body=None, status=200):
        api.as_token(secret)
        response = api.get(path) if body is None else api.post(path, body)
        assert response.status_code == status, (path, response.content)
        return response.json()

    def where(run_id):
        run = call(as_lead, f"/runs/{run_id}")
        open_tasks = [t for t in run["tasks"] if t["state"] in OPEN]
        return run, (open_tasks[0] if open_tasks else None)

    def work(secret, task, finish):
        for body in ({"action": "start"}, finish):
            call(secret, f"/tasks/{task['id']}/transitions", body)

    document = _without_required_items(definitions.ML_DEPLOYMENT)
    call(as_lead, "/teams/data-science/templates/import", document, status=201)
    run = call(
        as_lead,
        "/teams/data-science/runs",
        {
            "template": "ml-deployment",
            "title": "churn-v6",
            "inputs": {"model": "churn-v6", "metrics": {"auc": 0.9}, "thresholds": {"auc": 0.8}},
        },
        status=201,
    )

    def to_staging(iteration):
        _run, task = where(run["id"])
        assert (_run["current_steps"], task["iteration"]) == (["train"], iteration)
        work(as_trainer, task, {"action": "complete", "outcome": "done"})
        _run, task = where(run["id"])
        work(as_trainer, task, {"action": "complete", "outcome": "passed"})
        _run, task = where(run["id"])
        assert _run["current_steps"] == ["review"]
        work(as_reviewer, task, {"action": "approve"})
        _run, task = where(run["id"])
        assert _run["current_steps"] == ["staging"]
        assert (task["state"], task["assignee"]) == ("in_progress", "relay-automation")
        return task

    staging = to_staging(1)
    out = _script(
        live_server, ci, str(staging["id"]), "failed", "AUC 0.79 on staging", "https://ci/1"
    )
    assert "reported failed" in out
    alerts = [n for n in call(as_lead, "/notifications") if n["kind"] == "run_failed"]
    assert any("AUC 0.79 on staging" in n["payload"]["note"] for n in alerts)

    staging = to_staging(2)  # looped back to train
    _script(live_server, ci, str(staging["id"]), "passed", "All green", "https://ci/2")
    finished, _open = where(run["id"])
    assert finished["status"] == "completed"
    assert _open is None
