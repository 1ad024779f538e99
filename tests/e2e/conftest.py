"""Browser tests: Playwright driving Debian's chromium (/usr/bin/chromium), never a download."""

import copy
import os
import shutil
from pathlib import Path

import pytest

from apps.people.models import Role
from apps.workflows import definitions, exchange

from ..factories import PASSWORD, PersonSkillFactory, SkillFactory

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# around it are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def login(page):
    def do(user):
        page.goto("/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/login/" not in url)
        return page

    return do


@pytest.fixture
def ml_trainer(team, make_member):
    """The ML deployment template in `team`, with a trainer (tara, returned) and a reviewer
    (rex) who have its skills."""
    training = SkillFactory(slug="ml-training")
    review = SkillFactory(slug="ml-review", is_review_skill=True)
    trainer = make_member(username="tara")
    PersonSkillFactory(user=trainer, skill=training, level=4)
    reviewer = make_member(Role.REVIEWER, username="rex")
    PersonSkillFactory(user=reviewer, skill=review, level=4)
    exchange.import_template(copy.deepcopy(definitions.ML_DEPLOYMENT), team=team)
    return trainer
