"""A comment's @mention, end to end: the author types it, the teammate's inbox has it."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_mentioning_alan_links_him_and_lands_in_his_inbox(login, page, task, make_member, member):
    alan = make_member(username="alan", first_name="Alan", last_name="Turing")
    login(member)
    page.goto(task.get_absolute_url())
    page.get_by_label("Comment").fill("@alan could you **check** this?")
    page.get_by_role("button", name="Add comment").click()

    mention = page.locator("#comments .comment-body a.mention")
    expect(mention).to_have_text("@Alan Turing")
    expect(mention).to_have_attribute("href", "/teams/data-science/board/?assignee=alan")
    expect(page.locator("#comments .comment-body strong")).to_have_text("check")
    # Posting made the author a watcher: the toggle, swapped with the comments, says so.
    expect(page.get_by_test_id("page-watch").get_by_role("button")).to_have_text("Unwatch")

    page.context.clear_cookies()
    login(alan)
    page.goto("/notifications/")
    expect(page.get_by_text("You were mentioned")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(task.title))).to_be_visible()
