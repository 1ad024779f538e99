"""The workflow insight page and its CSV: who sees it, what bad input gets, and queries pinned."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from .builders import add_run, hand_computed

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(team, member):
    return hand_computed(team=team, owner=member, t0=timezone.now() - timedelta(days=3))


def url(team, template, name="insight:workflow"):
    return reverse(name, kwargs={"team_slug": team.slug, "template_slug": template.slug})


def test_member_sees_the_heat_map_the_bottleneck_and_every_figure_as_a_table(
    client_for, member, team, template
):
    response = client_for(member).get(url(team, template))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Review is the bottleneck" in page
    assert 'class="node review heat-4"' in page  # the slowest step, darkest band
    assert "median 4 h" in page  # its median written in the box, not colour alone
    assert "changes requested · 25%" in page  # the loop-back arrow's rate
    assert 'data-testid="step-table"' in page and 'data-testid="lead-table"' in page


def test_another_teams_workflow_is_not_found(client_for, outsider, team, template):
    assert client_for(outsider).get(url(team, template)).status_code == 404
    assert client_for(outsider).get(url(team, template, "insight:workflow_csv")).status_code == 404


def test_an_unknown_workflow_is_not_found(client_for, member, team):
    missing = reverse("insight:workflow", kwargs={"team_slug": team.slug, "template_slug": "nope"})
    assert client_for(member).get(missing).status_code == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "2026-01-01"}, "Give both dates"),
        ({"start": "2026-03-01", "end": "2026-01-01"}, "ends before it starts"),
        ({"start": "2024-01-01", "end": "2026-01-01"}, "at most 366 days"),
        ({"last": "9999"}, "Select a valid choice"),
        ({"version": "99999999999999"}, "less than or equal"),
    ],
)
def test_a_bad_period_is_refused_with_a_sentence(
    client_for, member, team, template, query, message
):
    response = client_for(member).get(url(team, template), query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_a_chosen_period_and_version(client_for, member, team, template):
    today = timezone.localdate()
    response = client_for(member).get(
        url(team, template),
        {"start": (today - timedelta(days=10)).isoformat(), "end": today.isoformat(), "version": 1},
    )
    assert response.status_code == 200
    assert "Review is the bottleneck" in response.content.decode()
    assert client_for(member).get(url(team, template), {"version": 7}).status_code == 404


def test_csv_has_the_step_figures(client_for, member, team, template):
    response = client_for(member).get(url(team, template, "insight:workflow_csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    review = next(line for line in lines if line.startswith("review,"))
    # runs, tasks, finished, waiting median/p85 (s), working median/p85 (s), loop-backs, rate
    assert review.startswith("review,3,4,4,10800.0,14400.0,3600.0,5580.0,1,0.25,")
    assert "review,draft,1,0.25" in lines


def test_queries_do_not_grow_with_runs(
    client_for, member, team, template, django_assert_max_num_queries
):
    client = client_for(member)
    client.get(url(team, template))
    t0 = timezone.now() - timedelta(days=2)
    for i in range(20):
        add_run(
            template=template,
            owner=member,
            t0=t0,
            title=f"more {i}",
            tasks=[
                ("draft", 1, 0, 1, 2, "done"),
                ("review", 1, 2, 3, 4, "approved"),
            ],
        )
    with django_assert_max_num_queries(12):
        assert client.get(url(team, template)).status_code == 200


def test_the_period_select_shows_the_30_days_the_page_shows_by_default(
    client_for, member, team, template
):
    page = client_for(member).get(url(team, template)).content.decode()
    assert '<option value="30" selected>Last 30 days</option>' in page
    assert '<option value="7">Last 7 days</option>' in page
    assert "Last 30 days" in page and "last 30 days" in page.lower()


def test_the_period_select_keeps_the_chosen_period(client_for, member, team, template):
    page = client_for(member).get(url(team, template), {"last": "7"}).content.decode()
    assert '<option value="7" selected>Last 7 days</option>' in page
    assert '<option value="30">Last 30 days</option>' in page


def test_thick_heat_map_arrows_keep_small_arrowheads(client_for, member, team, template):
    # Sized by the stroke (SVG's default), a 7 px arrow grew a 49 px head over its label.
    page = client_for(member).get(url(team, template)).content.decode()
    markers = page.count('<marker id="wf-arrow')
    assert markers == 2 and page.count('markerUnits="userSpaceOnUse"') == markers
