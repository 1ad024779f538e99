import re

import pytest
from playwright.sync_api import expect

from apps.tasks.models import Task

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_pager_swaps_the_rows_in_place_and_keeps_the_search(login, page, team, lead):
    Task.objects.bulk_create(Task(team=team, title=f"Task {i:04d}") for i in range(60))
    login(lead)
    page.goto(f"/teams/{team.slug}/tasks/?q=Task")
    expect(page.get_by_test_id("task-count")).to_have_text("60 tasks · 1\u201350 · page 1 of 2")
    page.get_by_role("link", name="Next", exact=True).click()
    expect(page.get_by_test_id("task-count")).to_have_text("60 tasks · 51\u201360 · page 2 of 2")
    expect(page.get_by_role("link", name="Task 0050")).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?q=Task&page=2$"))
    expect(page.get_by_label("Search")).to_have_value("Task")
