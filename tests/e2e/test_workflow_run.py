"""A lead starts the ML deployment run; the trainer works through train and evaluate and
watches the run page's diagram move on."""

import os
import re

import pytest
from playwright.sync_api import expect

from apps.tasks.models import Task
from apps.workflows.models import Run

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _node(page, key):
    return page.locator(f'[data-testid="run-diagram"] [data-step="{key}"]')


def _work_on(page, run, key, outcome, outputs=None, screenshot=None):
    task = Task.objects.get(run=run, step__key=key)
    page.goto(task.get_absolute_url())
    page.get_by_role("button", name="Start", exact=True).click()
    expect(page.get_by_test_id("task-state")).to_have_text("In progress")
    checklist = page.get_by_test_id("checklist")
    for item in task.checklist.filter(required=True):
        checklist.get_by_label(item.text, exact=True).check()
        # Answered by the server (the box alone is checked at once, before the page's swap).
        expect(
            page.get_by_test_id("checklist").locator("li.done", has_text=item.text)
        ).to_have_count(1)
    page.get_by_label("Outcome").select_option(outcome)
    for label, value in (outputs or {}).items():
        page.get_by_label(label).fill(value)
    if screenshot:
        page.screenshot(path=screenshot, full_page=True)
    page.get_by_role("button", name="Complete", exact=True).click()
    expect(page.get_by_test_id("task-state")).to_have_text("Done")


def test_a_lead_starts_the_ml_run_and_the_trainer_moves_it_on(login, page, lead, ml_trainer):
    trainer = ml_trainer
    login(lead)
    page.get_by_role("link", name="Runs").click()
    page.get_by_role("link", name="Start a run").click()
    page.get_by_label("Workflow").select_option(label="ML model deployment (v1)")
    # The workflow's typed inputs, with their defaults.
    expect(page.get_by_label("Accuracy threshold")).to_have_value("0.9")
    page.get_by_label("Title").fill("churn-v3")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_test_id("run-status")).to_have_text("Running")
    expect(_node(page, "train")).to_have_class(re.compile(r"\bcurrent\b"))
    run = Run.objects.get(title="churn-v3")

    page.context.clear_cookies()
    login(trainer)
    _work_on(page, run, "train", "done")
    page.get_by_role("link", name="churn-v3").click()
    expect(_node(page, "train")).to_have_class(re.compile(r"\bdone\b"))
    expect(_node(page, "evaluate")).to_have_class(re.compile(r"\bcurrent\b"))

    # Evaluate asks for its accuracy; at or above the run's threshold the run goes to review.
    _work_on(
        page,
        run,
        "evaluate",
        "done",
        outputs={"Accuracy": "0.95"},
        screenshot=os.environ.get("RELAY_E2E_SHOT") or None,
    )
    page.goto(run.get_absolute_url())
    expect(_node(page, "evaluate")).to_contain_text("done")
    expect(_node(page, "review")).to_have_class(re.compile(r"\bcurrent\b"))
