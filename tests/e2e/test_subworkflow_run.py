"""An onboarding run's page shows its three sub-workflow runs; a child's page leads back."""

import copy
import os

import pytest
from playwright.sync_api import expect

from apps.people.models import Role
from apps.workflows import definitions, exchange, services
from apps.workflows.models import Run

from ..factories import PersonSkillFactory, SkillFactory
from ..workflows.helpers import finish

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_onboarding_page_shows_its_sub_workflows_and_a_child_leads_back(
    login, page, make_member
):
    hana = make_member(Role.LEAD, username="hana", capacity=10)
    for slug in ("support", "writing"):
        PersonSkillFactory(user=hana, skill=SkillFactory(slug=slug), level=3)
    for part in definitions.ONBOARDING_PARTS.values():
        exchange.import_template(copy.deepcopy(part), team=hana.teams.first())
    template = exchange.import_template(
        copy.deepcopy(definitions.ONBOARDING), team=hana.teams.first()
    )
    run = services.start_run(
        template=template, title="Ivy Li", owner=hana, by=hana, inputs={"employee": "Ivy Li"}
    )
    finish(run, "intake", taker=hana)
    crm = Run.objects.get(parent_task__run=run, template__slug="crm-update")
    finish(crm, "record", taker=hana)

    login(hana)
    page.goto(run.get_absolute_url())
    children = page.get_by_test_id("child-runs")
    expect(children.locator("li.child-run")).to_have_count(3)
    expect(children.locator("li.child-run", has_text="CRM update")).to_contain_text("Completed")
    expect(children.locator("li.child-run", has_text="Welcome e-mail")).to_contain_text("Running")
    shots = os.environ.get("RELAY_SCREENSHOTS")
    if shots:
        page.screenshot(path=f"{shots}/onboarding-sub-workflows.png", full_page=True)
    children.get_by_role("link", name="Welcome e-mail: Ivy Li").click()
    expect(page.get_by_test_id("run-parent")).to_contain_text("Ivy Li")
    if shots:
        page.screenshot(path=f"{shots}/welcome-email-child.png", full_page=True)
    page.get_by_test_id("run-parent").get_by_role("link", name="Ivy Li").click()
    expect(page.get_by_test_id("child-runs")).to_be_visible()
