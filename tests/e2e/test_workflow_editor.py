"""A lead edits a route condition in the Workflow admin: the diagram and its validation message
update without saving; a dry run then highlights the path the run would take."""

import os
import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def conditioned(team, ml_trainer):
    """The shipped ML template, driven by data: Evaluate records `accuracy`; done with
    `accuracy >= inputs.threshold` goes to Peer review, otherwise back to Train."""
    template = team.templates.get()
    assert template.routes.filter(condition="accuracy >= inputs.threshold").exists()
    return template


def test_a_lead_edits_a_condition_watches_the_diagram_and_dry_runs_it(
    login, page, lead, conditioned
):
    shots = os.environ.get("RELAY_SCREENSHOTS")
    login(lead)
    page.goto(f"/team-admin/workflows/workflowtemplate/{conditioned.pk}/change/")
    live = page.get_by_test_id("wf-live")
    status = page.get_by_test_id("wf-status")
    evaluate = live.locator("svg.wf [data-step='evaluate']")
    expect(status).to_contain_text("Valid: runs can start.")
    expect(live.locator("svg.wf")).to_contain_text("done: accuracy >= inputs.threshold")

    condition = page.locator('input[name$="-condition"][value="accuracy >= inputs.threshold"]')
    condition.fill("acuracy >= inputs.threshold")  # a typo: Evaluate has no such output
    expect(status).to_contain_text("1 problem: runs can't start until they're fixed.")
    expect(status).to_contain_text("acuracy")
    expect(evaluate).to_have_class("node manual problem")
    expect(evaluate).to_contain_text("⚠ 1 problem")
    if shots:
        page.screenshot(path=f"{shots}/editor-condition-problem.png")

    condition.fill("accuracy >= 0.8")
    expect(status).to_contain_text("Valid: runs can start.")
    expect(evaluate).not_to_have_class("node manual problem")
    expect(live.locator("svg.wf")).to_contain_text("done: accuracy >= 0.8")

    page.locator('[name="dry-evaluate__outcome"]').select_option("done")
    page.locator('[name="dry-evaluate__out__accuracy"]').fill("0.85")
    page.get_by_test_id("dry-run").click()
    result = page.get_by_test_id("wf-dry-result")
    expect(result).to_contain_text("the run reaches END in 5 steps")
    expect(result).to_contain_text("[accuracy >= 0.8]")
    for key in ("train", "evaluate", "review", "staging", "deploy", "END"):
        expect(live.locator(f"svg.wf [data-step='{key}']")).to_have_class(
            re.compile(r"\bon-path\b")
        )
    if shots:
        page.locator("#wf-live").scroll_into_view_if_needed()
        page.screenshot(path=f"{shots}/editor-dry-run.png")

    # Below the threshold: back to Train, until the loop limit stops the run.
    page.locator('[name="dry-evaluate__out__accuracy"]').fill("0.5")
    expect(result).to_contain_text("would be reached a 6th time")
    expect(live.locator("svg.wf [data-step='review']")).not_to_have_class(
        re.compile(r"\bon-path\b")
    )

    # Nothing was saved.
    route = conditioned.routes.get(from_step__key="evaluate", to_step__key="review")
    assert route.condition == "accuracy >= inputs.threshold"


def test_a_lead_reorders_steps_with_the_keyboard(login, page, lead, conditioned):
    login(lead)
    page.goto(f"/team-admin/workflows/workflowtemplate/{conditioned.pk}/change/")
    labels = page.locator("#steps-group .inline-related:not(.empty-form) .inline_label")
    expect(labels.first).to_have_text("Train model")
    move_down = page.locator("#steps-group .inline-related").first.get_by_role(
        "button", name="Move down"
    )
    move_down.focus()
    page.keyboard.press("Enter")
    expect(labels.nth(0)).to_have_text("Evaluate")
    expect(labels.nth(1)).to_have_text("Train model")
    page.get_by_role("button", name="Save and continue editing").click()
    keys = list(conditioned.steps.order_by("position").values_list("key", flat=True))
    assert keys[:2] == ["evaluate", "train"]
