"""Under the Content-Security-Policy, a real browser uses Relay without one refused script,
style or request: the board (dragging included), the drawer, My work, the run pages, the
admin. Every `securitypolicyviolation` event and every console "Refused to …" is recorded."""

import re

import pytest
from playwright.sync_api import expect

from apps.tasks.models import State
from apps.workflows.models import Run, RunStatus

from ..factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.relayCspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.relayCspViolations.push(
    `${e.violatedDirective} blocked ${e.blockedURI || "inline"} on ${e.documentURI}`
    + (e.sample ? ` (${e.sample})` : "")
  );
});
"""


@pytest.fixture
def watched(page):
    """The page, recording what the policy refuses (on every document it loads)."""
    refused = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            refused.append(message.text)
            if "Refused to" in message.text or "Content Security Policy" in message.text
            else None
        ),
    )

    def violations():
        on_page = page.evaluate("window.relayCspViolations || []")
        page.evaluate("window.relayCspViolations = []")
        found = refused + on_page
        refused.clear()
        return found

    page.violations = violations
    return page


def goto(page, path):
    """Open a page, which must come with the policy (else no violation could be seen)."""
    response = page.goto(path)
    assert "script-src 'self'" in response.headers.get("content-security-policy", ""), path
    return response


def test_the_policy_is_enforced_and_the_recorder_sees_it(watched, login, member):
    login(member)
    assert watched.violations() == []
    # Markup with an inline handler, as an injected comment would carry: refused, and seen.
    watched.evaluate(
        "document.body.insertAdjacentHTML('beforeend',"
        ' \'<img src="/static/missing.png" onerror="window.relayInjected = 1">\')'
    )
    watched.wait_for_function("() => window.relayCspViolations.length > 0")
    assert watched.evaluate("window.relayInjected") is None
    assert any("script-src" in v for v in watched.violations())


def test_the_whole_app_runs_under_the_policy(watched, login, team, ml_trainer, lead, make_task):
    page = watched
    task = make_task(title="Write the churn report")

    login(lead)
    assert page.violations() == [], "login page"

    # The board, and a drag that the server answers by re-rendering the columns.
    goto(page, f"/teams/{team.slug}/board/")
    expect(page.locator(f"#card-{task.pk}")).to_be_visible()
    page.evaluate("window.relayLastMoveMs = undefined")
    page.locator(f"#card-{task.pk}").drag_to(
        page.locator("#cell-0-assigned"), target_position={"x": 30, "y": 10}
    )
    page.wait_for_function("() => window.relayLastMoveMs !== undefined")
    expect(page.locator(f"#cell-0-assigned #card-{task.pk}")).to_be_visible()
    task.refresh_from_db()
    assert task.state == State.ASSIGNED
    # The drawer, with its lazily loaded assignment panel (load bars).
    page.locator(f"#card-{task.pk}").get_by_role("link", name=task.title).click()
    drawer = page.get_by_role("complementary", name="Task details")
    expect(drawer.get_by_role("heading", name=task.title)).to_be_visible()
    expect(drawer.get_by_text("Assignment", exact=True)).to_be_visible()
    assert page.violations() == [], "board, drag and drawer"

    for path, visible in [
        ("/my-work/", "My work"),
        ("/reviews/", "Awaiting my review"),
        (task.get_absolute_url(), task.title),
        (f"/teams/{team.slug}/tasks/", "Write the churn report"),
        (f"/teams/{team.slug}/workload/", "workload"),
        ("/notifications/", "Inbox"),
        ("/notifications/settings/", "Notification"),
    ]:
        goto(page, path)
        expect(page.locator("main")).to_contain_text(re.compile(visible, re.IGNORECASE))
        assert page.violations() == [], path

    # Starting a run shows the diagram; its page has the Cancel button that asks first.
    goto(page, f"/teams/{team.slug}/runs/new/")
    page.get_by_label("Workflow").select_option(label="ML model deployment (v1)")
    page.get_by_label("Title").fill("churn-v3")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_test_id("run-status")).to_have_text("Running")
    expect(page.locator('[data-testid="run-diagram"] svg.wf')).to_be_visible()
    run = Run.objects.get(title="churn-v3")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Cancel run").click()
    expect(page.get_by_test_id("run-status")).to_have_text("Running")
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING  # dismissed: nothing happened
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel run").click()
    expect(page.get_by_test_id("run-status")).to_have_text("Cancelled")
    assert page.violations() == [], "run pages"


def test_the_admin_runs_under_the_policy(watched, login, team, ml_trainer, make_task):
    page = watched
    task = make_task(title="Write the churn report")
    login(UserFactory(username="root", is_staff=True, is_superuser=True))
    template = team.templates.get()
    for path, visible in [
        ("/admin/", "Site administration"),
        ("/admin/tasks/task/", "Write the churn report"),
        (f"/admin/tasks/task/{task.pk}/change/", "Write the churn report"),
        ("/admin/workflows/workflowtemplate/", "ML model deployment"),
        (f"/admin/workflows/workflowtemplate/{template.pk}/change/", "Copy to draft v2"),
        ("/admin/workflows/workflowtemplate/import/", "Import"),
        ("/admin/people/user/add/", "Username"),
    ]:
        goto(page, path)
        expect(page.locator("body")).to_contain_text(visible)
        assert page.violations() == [], path
    # The template's change page draws the diagram and its inlines' "Add another" works.
    goto(page, f"/admin/workflows/workflowtemplate/{template.pk}/change/")
    expect(page.locator(".wf-diagram svg.wf")).to_be_visible()
    # Django's inlines.js made the "Add another" links: the admin's own scripts run.
    rows = page.locator(".dynamic-steps")
    before = rows.count()
    page.get_by_text("Add another Step", exact=True).click()
    expect(rows).to_have_count(before + 1)
    assert page.violations() == [], "admin inline"


def test_a_page_loads_nothing_that_is_missing(page, login, member):
    """Every stylesheet and script a page asks for is there, and it names Relay's icon (without
    one, browsers ask for /favicon.ico on every page: a 404 in the console)."""
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    login(member)
    goto(page, "/")
    page.wait_for_load_state("networkidle")
    assert missing == []
    assert page.evaluate("document.querySelector('link[rel=icon]').href").endswith("favicon.svg")
