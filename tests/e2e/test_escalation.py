"""An overdue step escalates: the lead sees the card's badge on the board, the stages in the
drawer's history and the step's line on the run page."""

import os
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from apps.tasks import services as task_services
from apps.tasks.models import Task
from apps.workflows import escalation, exchange, services

from ..factories import PersonSkillFactory, SkillFactory
from ..workflows.helpers import GAP, escalating_document

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("RELAY_SCREENSHOTS")  # a folder: keep the pictures to look at


def _shot(target, name):
    if SHOTS:
        target.screenshot(path=os.path.join(SHOTS, f"escalation-{name}.png"))


def test_a_lead_sees_an_escalated_step_on_the_board_the_drawer_and_the_run(
    login, page, team, lead, make_member
):
    python = SkillFactory(slug="python")
    SkillFactory(slug="ml-review", is_review_skill=True)
    coder = make_member(username="cody", first_name="Cody", last_name="Coder")
    PersonSkillFactory(user=coder, skill=python, level=3)
    template = exchange.import_template(escalating_document(), team=team)
    run = services.start_run(template=template, title="Churn v3", owner=lead, by=lead)
    task = Task.objects.get(run=run, step__key="write")
    task = task_services.assign_to(task=task, assignee=coder, by=lead)
    escalation.escalate_overdue(now=task.due_at)
    escalation.escalate_overdue(now=task.due_at + timedelta(hours=GAP))

    login(lead)
    page.goto(f"/teams/{team.slug}/board/")
    badge = page.locator(f"#card-{task.pk}").get_by_test_id("escalated")
    expect(badge).to_have_text("⚑ Escalated: lead alerted")
    _shot(page, "board")

    page.locator(f"#card-{task.pk} .card-title").click()
    history = page.get_by_test_id("drawer-history")
    expect(history.get_by_test_id("history-escalation")).to_have_count(2)
    expect(history).to_contain_text("Reminded Cody Coder: the SLA (24 h) ran out.")
    history.scroll_into_view_if_needed()
    _shot(history, "drawer-history")

    page.goto(run.get_absolute_url())
    expect(page.get_by_test_id("run-escalated")).to_contain_text("Escalated: lead alerted")
    _shot(page, "run")
