"""A phone-sized screen (390 by 844): the header folds into a menu that reaches every link, the
board's filters fold behind a button and its columns scroll sideways; dark mode follows the
system setting."""

import pytest
from playwright.sync_api import expect

from apps.tasks import services

from ..factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser, live_server):
    def open_as(user, *, color_scheme="light"):
        context = browser.new_context(
            base_url=live_server.url, viewport=PHONE, color_scheme=color_scheme
        )
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto("/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/login/" not in url)
        return page

    return open_as


def test_every_header_link_is_reachable_through_the_menu(phone, lead, team):
    page = phone(lead)
    page.goto(f"/teams/{team.slug}/board/")
    menu = page.locator("#topbar-menu")
    expect(menu).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_test_id("menu-toggle").click()
    expect(page.get_by_test_id("menu-toggle")).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#work-links a").first).to_be_visible()  # the lazily loaded counts
    for name in ["Board", "Tasks", "Runs", "Workload", "My work", "Awaiting my review"]:
        expect(menu.get_by_role("link", name=name, exact=True)).to_be_visible()
    for control in [
        menu.locator("#unread-badge"),
        menu.get_by_role("link", name=lead.display_name),
        menu.get_by_role("button", name="Log out"),
    ]:
        expect(control).to_be_visible()
        box = control.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    menu.locator("#unread-badge").click()
    page.wait_for_url("**/notifications/")
    page.get_by_test_id("menu-toggle").click()
    menu.get_by_role("link", name="Awaiting my review").click()
    page.wait_for_url("**/reviews/")


def test_board_filters_fold_and_columns_scroll_sideways(phone, lead, team):
    services.create_task(team=team, title="Something to do", by=lead)
    page = phone(lead)
    page.goto(f"/teams/{team.slug}/board/")
    filters = page.locator("#board-filters")
    expect(filters).to_be_hidden()
    page.get_by_test_id("filters-toggle").click()
    expect(filters.get_by_label("Assignee")).to_be_visible()
    board = page.locator(".board")
    sizes = board.evaluate("b => [b.scrollWidth, b.clientWidth]")
    assert sizes[0] > sizes[1] * 3  # most columns are off to the right
    board.evaluate("b => b.scrollBy(250, 0)")
    page.wait_for_function("() => document.querySelector('.board').scrollLeft > 0")
    assert board.evaluate("b => getComputedStyle(b).scrollSnapType").startswith("x")


def test_dark_mode_follows_the_system_setting(phone, member):
    page = phone(member, color_scheme="dark")
    page.goto("/notifications/")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    ink = page.evaluate("getComputedStyle(document.body).color")
    assert background == "rgb(17, 21, 31)"
    assert ink == "rgb(230, 233, 240)"


def test_header_counts_refresh_after_an_action(login, member, lead, team):
    task = services.create_task(team=team, title="Put me aside", by=lead)
    services.assign_to(task=task, assignee=member, by=lead)
    page = login(member)
    page.goto(task.get_absolute_url())
    expect(page.get_by_test_id("my-work-count")).to_have_text("1")
    page.get_by_role("button", name="Put on hold").click()
    expect(page.get_by_test_id("my-work-count")).to_have_count(0)
