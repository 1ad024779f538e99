"""Finding a task by a word that only a comment holds: from the header's quick-open box
(keyboard only: "/", type, arrows, Enter) and from the results page."""

import re

import pytest
from playwright.sync_api import expect

from apps.tasks import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def commented(team, lead, outsider):
    task = services.create_task(team=team, title="Evaluate churn model", by=lead)
    services.add_comment(task=task, author=lead, body="The holdout set has a leakage problem.")
    services.create_task(team=team, title="Unrelated chore", by=lead)
    elsewhere = outsider.memberships.get().team
    hidden = services.create_task(team=elsewhere, title="Their leakage audit", by=outsider)
    return task, hidden


def test_the_header_box_finds_a_task_by_a_word_in_a_comment(login, page, team, lead, commented):
    task, _ = commented
    refused = []  # what the Content-Security-Policy refuses (the box is static JS only)
    page.on("console", lambda m: refused.append(m.text) if "Refused to" in m.text else None)
    login(lead)
    page.goto(f"/teams/{team.slug}/tasks/")

    page.keyboard.press("/")
    expect(page.get_by_label("Find a task")).to_be_focused()
    page.keyboard.type("leakage")
    results = page.get_by_role("listbox", name="Matching tasks")
    expect(results.get_by_role("option")).to_have_count(2)  # the task, then "All results"
    expect(results.get_by_role("option").first).to_contain_text("Evaluate churn model")
    expect(results).not_to_contain_text("Their leakage audit")

    page.keyboard.press("Escape")
    expect(results).to_be_hidden()
    page.get_by_label("Find a task").focus()
    expect(results).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(results.get_by_role("option").first).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/tasks/{task.pk}/$"))
    assert refused == []


def test_the_results_page_quotes_the_comment_with_the_word_marked(login, page, lead, commented):
    login(lead)
    page.goto("/")
    page.get_by_label("Find a task").fill("leakage")
    page.get_by_label("Find a task").press("Enter")  # nothing chosen: the results page

    expect(page).to_have_url(re.compile(r"/search/\?q=leakage$"))
    expect(page.get_by_test_id("search-count")).to_have_text("1 task match “leakage”")
    hit = page.get_by_test_id("search-results").get_by_role("listitem")
    expect(hit).to_contain_text("In a comment: The holdout set has a leakage problem.")
    expect(hit.locator("mark")).to_have_text("leakage")
    hit.get_by_role("link", name="Evaluate churn model").click()
    expect(page.get_by_role("heading", name="Evaluate churn model")).to_be_visible()
