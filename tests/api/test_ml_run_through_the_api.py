"""The ML run end to end through the API only, against a live server: the lead starts it, the
people do their steps with transitions (and tick their criteria), the CI script reports the
staging tests failed (the run loops back to training and the owner is alerted), the next
round's report passes, the deploy runs, and the run is completed."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from apps.api.testing import personal_token_for_tests, service_token_for_tests

from ..workflows.conftest import GOOD_INPUTS

ROOT = Path(__file__).resolve().parents[2]
LINK = "https://ci.example.com/jobs/7"


class Http:
    def __init__(self, base: str, token: str):
        self.base, self.token = base, token

    def __call__(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.base}/api/v1{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{method} {path}: {error.code} {error.read()!r}") from None


def report(live_server, token: str, task: int, outcome: str, message: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "report-step"), str(task), outcome, message, LINK],
        env={**os.environ, "RELAY_URL": live_server.url, "RELAY_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def open_task_of(run: dict, step: str) -> dict:
    [task] = [
        t for t in run["tasks"] if t["step"] == step and t["state"] not in ("done", "cancelled")
    ]
    return task


def work(people: dict[str, Http], task_id: int, outcome: str | dict) -> dict:
    """The task's assignee takes it through the lifecycle as the task page would."""
    anyone = next(iter(people.values()))
    task = anyone("GET", f"/tasks/{task_id}")
    http = people[task["assignee"]["username"]]
    if task["state"] == "assigned":
        task = http("POST", f"/tasks/{task_id}/transitions", {"action": "start"})
    for item in task["checklist"]:
        if item["required"] and not item["done"]:
            task = http("POST", f"/tasks/{task_id}/checklist/{item['id']}", {"done": True})
    if outcome == "approved":
        return http("POST", f"/tasks/{task_id}/transitions", {"action": "approve"})
    if isinstance(outcome, dict):  # the step's outputs: the run routes on them
        return http(
            "POST", f"/tasks/{task_id}/transitions", {"action": "complete", "outputs": outcome}
        )
    return http("POST", f"/tasks/{task_id}/transitions", {"action": "complete", "outcome": outcome})


def one_round(lead: Http, people: dict[str, Http], run_id: int) -> dict:
    """Train, evaluate (accuracy above the threshold) and review (approved); the run then
    waits for staging."""
    steps = (("train", "done"), ("evaluate", {"accuracy": 0.95}), ("review", "approved"))
    for step, outcome in steps:
        run = lead("GET", f"/runs/{run_id}")
        assert run["current_steps"] == [step], run["current_steps"]
        done = work(people, open_task_of(run, step)["id"], outcome)
        assert done["state"] == "done"
    run = lead("GET", f"/runs/{run_id}")
    assert run["current_steps"] == ["staging"]
    return open_task_of(run, "staging")


@pytest.mark.django_db(transaction=True)
def test_the_ml_run_through_the_api_only(
    live_server, team, lead, trainer, ml_reviewer, ml_template
):
    lead_api = Http(live_server.url, personal_token_for_tests(lead))
    people = {
        user.username: Http(live_server.url, personal_token_for_tests(user))
        for user in (trainer, ml_reviewer)
    }
    ci = service_token_for_tests(team, name="CI")

    run = lead_api(
        "POST",
        "/teams/data-science/runs",
        {"template": "ml-deployment", "title": "churn-v3", "inputs": GOOD_INPUTS},
    )
    assert (run["status"], run["owner"]) == ("running", lead.username)

    staging = one_round(lead_api, people, run["id"])
    said = report(live_server, ci, staging["id"], "failed", "2 integration tests failed.")
    assert f"Task {staging['id']} (staging) reported failed." in said
    run = lead_api("GET", f"/runs/{run['id']}")
    assert run["status"] == "running"
    assert run["current_steps"] == ["train"]
    assert open_task_of(run, "train")["iteration"] == 2
    alerts = [n for n in lead_api("GET", "/notifications") if n["kind"] == "run_failed"]
    assert len(alerts) == 1 and alerts[0]["task"] == staging["id"]
    history = lead_api("GET", f"/tasks/{staging['id']}")["history"]
    print("HISTORY", history)
    assert any("CI (service token) for Data Science" in h["note"] for h in history) or any(
        h["by"] == "CI (service token) for Data Science" for h in history
    )

    staging = one_round(lead_api, people, run["id"])
    report(live_server, ci, staging["id"], "passed", "All green.")
    run = lead_api("GET", f"/runs/{run['id']}")
    assert run["status"] == "completed", run
    assert {s["key"]: s["status"] for s in run["steps"]}["deploy"] == "done"
