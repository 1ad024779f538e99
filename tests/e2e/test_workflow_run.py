"""A lead starts the ML deployment run; the trainer works through train and evaluate and
watches the run page's diagram move on."""

import copy
import re

import pytest
from playwright.sync_api import expect

from apps.people.models import Role
from apps.tasks.models import Task
from apps.workflows import definitions, exchange
from apps.workflows.models import Run

from ..factories import PersonSkillFactory, SkillFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ml_team(team, make_member, lead):
    training = SkillFactory(slug="ml-training")
    review = SkillFactory(slug="ml-review", is_review_skill=True)
    trainer = make_member(username="tara")
    PersonSkillFactory(user=trainer, skill=training, level=4)
    reviewer = make_member(Role.REVIEWER, username="rex")
    PersonSkillFactory(user=reviewer, skill=review, level=4)
    exchange.import_template(copy.deepcopy(definitions.ML_DEPLOYMENT), team=team)
    return trainer


def _node(page, key):
    return page.locator(f'[data-testid="run-diagram"] [data-step="{key}"]')


def _work_on(page, run, key, outcome):
    task = Task.objects.get(run=run, step__key=key)
    page.goto(task.get_absolute_url())
    page.get_by_role("button", name="Start", exact=True).click()
    expect(page.get_by_test_id("task-state")).to_have_text("In progress")
    page.get_by_label("Outcome").select_option(outcome)
    page.get_by_role("button", name="Complete", exact=True).click()
    expect(page.get_by_test_id("task-state")).to_have_text("Done")


def test_a_lead_starts_the_ml_run_and_the_trainer_moves_it_on(login, page, lead, ml_team):
    trainer = ml_team
    login(lead)
    page.get_by_role("link", name="Runs").click()
    page.get_by_role("link", name="Start a run").click()
    page.get_by_label("Workflow").select_option(label="ML model deployment (v1)")
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

    _work_on(page, run, "evaluate", "passed")
    page.goto(run.get_absolute_url())
    expect(_node(page, "evaluate")).to_contain_text("passed")
    expect(_node(page, "review")).to_have_class(re.compile(r"\bcurrent\b"))
