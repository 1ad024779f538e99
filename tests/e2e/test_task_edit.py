"""Editing a task in a real browser: from the drawer (the card follows), and from the page
(Escape discards; saving shows the history line)."""

import re

import pytest
from playwright.sync_api import expect

from apps.tasks import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_edit_from_the_drawer_updates_the_card_and_the_history(login, page, task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    login(member)
    page.goto(f"/teams/{task.team.slug}/board/?task={task.pk}")
    drawer = page.locator("#drawer-body")
    drawer.get_by_test_id("edit-task").click()
    expect(drawer.get_by_label("Reviewer")).to_be_disabled()  # not the assignee's to choose
    drawer.get_by_label("Priority").select_option(label="Urgent")
    drawer.get_by_label("Title").fill("Train the churn model")
    drawer.get_by_test_id("save-edit").click()
    history = drawer.get_by_test_id("drawer-history")
    expect(history).to_contain_text(
        re.compile(rf"{member.display_name}\s+Title: Train churn model → Train the churn model")
    )
    expect(history).to_contain_text("Priority: Normal → Urgent")
    card = page.locator(f"#card-{task.pk}")
    expect(card.locator(".prio")).to_have_text("⇈ Urgent")
    expect(card.locator(".card-title")).to_have_text("Train the churn model")


def test_escape_discards_an_edit_on_the_task_page(login, page, task, lead):
    login(lead)
    page.goto(task.get_absolute_url())
    page.get_by_test_id("edit-task").click()
    page.get_by_label("Title").fill("Not this")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("edit-task")).to_be_visible()
    expect(page.locator("h1")).to_have_text("Train churn model")
    page.get_by_test_id("edit-task").click()
    page.get_by_label("Due").fill("2026-12-05T09:30")
    page.get_by_test_id("save-edit").click()
    expect(page.get_by_test_id("history")).to_contain_text("Due date: none → 5 Dec 09:30")
