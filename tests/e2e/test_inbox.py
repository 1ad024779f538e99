import re

import pytest
from playwright.sync_api import expect

from apps.notifications.models import Kind
from apps.notifications.services.outbox import notify

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_marking_a_notification_read_updates_the_header_badge_in_place(login, page, member):
    for i in range(2):
        notify(kind=Kind.ASSIGNED, recipients=[member], key=f"e2e:{i}", payload={"title": f"T{i}"})
    login(member)
    badge = page.locator("#unread-badge .count")
    expect(badge).to_have_text("2")
    page.locator("#unread-badge").click()
    expect(page).to_have_url(re.compile(r"/notifications/$"))
    page.get_by_role("button", name="Mark read").first.click()
    expect(badge).to_have_text("1")
    expect(page.locator("#inbox-unread")).to_have_text("· 1 unread")
    assert page.url.endswith("/notifications/")  # an HTMX swap, not a navigation
