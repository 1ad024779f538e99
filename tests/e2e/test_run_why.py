"""The run page in a browser: why the run looped back (the failed check, the values it read,
the doer's note), and a lead retrying the failed run from its failed step."""

import copy
import os

from playwright.sync_api import expect

from apps.tasks import services as task_services
from apps.workflows import definitions, exchange, services

from ..workflows.helpers import finish, open_task, tick_required


def _data_driven_run(team, lead):
    """The ML example: Evaluate routes on `accuracy >= inputs.threshold`."""
    template = exchange.import_template(copy.deepcopy(definitions.ML_DEPLOYMENT), team=team)
    return services.start_run(
        template=template, title="churn-v3", owner=lead, by=lead, inputs={"threshold": 0.9}
    )


def test_the_run_page_says_why_and_a_lead_retries_it(login, page, team, lead, trainer, ml_reviewer):
    run = _data_driven_run(team, lead)
    finish(run, "train")
    evaluate = open_task(run, "evaluate")
    if evaluate.state == "assigned":
        evaluate = task_services.start(task=evaluate, by=evaluate.assignee)
    tick_required(evaluate)
    services.finish_step(
        task=evaluate,
        by=evaluate.assignee,
        outputs={"accuracy": 0.81},
        note="Overfits on fold 3.",
    )
    task_services.cancel(task=open_task(run, "train"), by=lead, note="Wrong snapshot.")

    shots = os.environ.get("RELAY_SCREENSHOTS")
    login(lead)
    page.goto(run.get_absolute_url())
    expect(page.get_by_test_id(f"why-{evaluate.pk}")).to_contain_text("loops back to Train model")
    expect(page.get_by_test_id("failed-check")).to_have_text(
        "Failed check: accuracy >= inputs.threshold (accuracy = 0.81, inputs.threshold = 0.9)"
    )
    expect(page.get_by_test_id("note")).to_contain_text("Overfits on fold 3.")
    if shots:
        page.screenshot(path=f"{shots}/run-why-failed.png", full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Retry from “Train model”").click()
    expect(page.get_by_test_id("run-status")).to_have_text("Running")
    expect(page.get_by_test_id("run-event")).to_contain_text(
        f"{lead.display_name} retried the run from step Train model"
    )
    if shots:
        page.screenshot(path=f"{shots}/run-why-retried.png", full_page=True)
    assert open_task(run, "train").iteration == 3
