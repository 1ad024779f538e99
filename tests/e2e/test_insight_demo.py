"""The demo, seeded as `make run` seeds it, shows its history on the insight pages: the team's
charts and the ML deployment's heat-mapped diagram and bottleneck sentence. Needs the insight
pages of issue 13 (insight:team, insight:workflow)."""

import os
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.people.demo import DEMO_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())


def _login_ada(page):
    page.goto("/login/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def test_the_demo_history_fills_the_team_and_workflow_insight_pages(demo, page):
    _login_ada(page)
    page.goto(reverse("insight:team", kwargs={"team_slug": "data-science"}))
    charts = page.locator("svg[role=img]")
    # Cumulative flow, throughput, control chart, WIP, load: each a titled chart.
    assert charts.count() >= 5
    titles = page.locator("svg[role=img] > title").all_text_contents()
    assert len([t for t in titles if t.strip()]) >= 5
    for heading in ("Cumulative flow", "Throughput per week", "Cycle time", "Load against"):
        assert page.get_by_role("heading", name=heading).count() >= 1, heading
    # Each chart's numbers open under it: a row per day of the four weeks shown.
    page.get_by_text("The numbers").first.click()
    assert page.locator("details[open] table tr").count() == 1 + 28
    if shots := os.environ.get("RELAY_SCREENSHOTS"):
        page.screenshot(path=f"{shots}/insight-team.png", full_page=True)
    page.goto(
        reverse(
            "insight:workflow",
            kwargs={"team_slug": "data-science", "template_slug": "ml-deployment"},
        )
    )
    diagram = page.get_by_test_id("heat-diagram")
    assert diagram.locator("svg").count() == 1
    sentence = page.get_by_test_id("bottleneck").inner_text()
    # The demo's history makes the peer review wait for days: it is named the bottleneck.
    assert "Peer review is the bottleneck" in sentence, sentence
    assert page.get_by_test_id("loop-table").count() == 1
