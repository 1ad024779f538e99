"""A lead follows "Workflow admin" from the main nav to their team's template and its diagram."""

import copy
import os

import pytest
from playwright.sync_api import expect

from apps.workflows import definitions, exchange

from ..factories import SkillFactory, TeamFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_lead_opens_their_teams_workflow_in_the_workflow_admin(login, page, team, lead):
    for slug in ("ml-training", "ml-review"):
        SkillFactory(slug=slug, is_review_skill=slug == "ml-review")
    exchange.import_template(copy.deepcopy(definitions.ML_DEPLOYMENT), team=team)
    other = copy.deepcopy(definitions.ML_DEPLOYMENT)
    other["name"] = "Platform pipeline"
    exchange.import_template(other, team=TeamFactory(name="Platform", slug="platform"))

    shots = os.environ.get("RELAY_SCREENSHOTS")
    login(lead)
    page.get_by_test_id("workflow-admin-link").click()
    expect(page.locator("#site-name")).to_contain_text("Workflow admin")
    if shots:
        page.screenshot(path=f"{shots}/team-admin-index.png")
    page.get_by_role("link", name="Workflow templates").first.click()
    expect(page.get_by_role("link", name="ML model deployment")).to_be_visible()
    expect(page.get_by_text("Platform pipeline")).to_have_count(0)
    if shots:
        page.screenshot(path=f"{shots}/team-admin-list.png")
    page.get_by_role("link", name="ML model deployment").click()
    expect(page.locator("svg.wf [data-step='review']")).to_be_visible()
    expect(page.get_by_text("Valid: runs can start.")).to_be_visible()
    if shots:
        page.screenshot(path=f"{shots}/team-admin-change.png", full_page=True)
