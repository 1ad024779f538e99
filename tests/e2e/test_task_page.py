import re

import pytest
from playwright.sync_api import expect

from apps.tasks import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_member_starts_a_task_and_sees_the_history(login, page, task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    login(member)
    page.get_by_role("link", name="Train churn model").click()
    expect(page.get_by_test_id("task-state")).to_have_text("Assigned")
    page.get_by_label("Note").fill("starting with the baseline")
    page.get_by_role("button", name="Start", exact=True).click()
    expect(page.get_by_test_id("task-state")).to_have_text("In progress")
    history = page.get_by_test_id("history")
    expect(history).to_contain_text(re.compile(r"start:\s+Assigned → In progress"))
    expect(history).to_contain_text("starting with the baseline")
    # It was an HTMX swap, not a navigation: the URL is still the task page.
    assert page.url.endswith(task.get_absolute_url())


def test_refusal_is_explained_in_place(login, page, task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    login(member)
    page.goto(task.get_absolute_url())
    services.start(task=task, by=member)  # another tab got there first
    page.get_by_role("button", name="Put on hold").click()
    expect(page.get_by_role("alert")).to_contain_text("Someone else changed this task first")
    expect(page.get_by_test_id("task-state")).to_have_text("In progress")
