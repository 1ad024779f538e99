"""The assignment panel in a real browser: suggestions with reasons, then auto-assign."""

import re

import pytest
from playwright.sync_api import expect

from apps.people.models import Role
from apps.tasks import services

from ..factories import MembershipFactory, PersonSkillFactory, SkillFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_lead_sees_ranked_suggestions_and_auto_assigns(login, page, team, lead):
    skill = SkillFactory(slug="ml", name="ML")
    able = UserFactory(first_name="Able", last_name="Person")
    novice = UserFactory(first_name="Novice", last_name="Person")
    for user, level in [(able, 4), (novice, 1)]:
        MembershipFactory(team=team, user=user, role=Role.MEMBER)
        PersonSkillFactory(user=user, skill=skill, level=level)
    task = services.create_task(
        team=team, title="Train churn model", by=lead, required_skill=skill, min_level=3
    )
    login(lead)
    page.goto(task.get_absolute_url())
    page.get_by_test_id("suggest").click()
    ranked = page.get_by_test_id("candidates").locator("li")
    expect(ranked.first).to_contain_text(re.compile(r"^\s*#1\s+AP\s+Able Person"))
    novice_row = ranked.filter(has_text="Novice Person")
    expect(novice_row).to_contain_text("has ML at level 1 < 3 required")
    expect(novice_row.locator(".rank")).to_have_text("\N{EN DASH}")  # not ranked
    page.get_by_test_id("auto-assign").click()
    expect(page.get_by_test_id("task-state")).to_have_text("Assigned")
    expect(page.get_by_test_id("decision")).to_contain_text("Able Person")
