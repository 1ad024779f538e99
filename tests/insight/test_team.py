"""The team's insight page: each figure equals the one worked out by hand from known
timestamps (log rows written with explicit times, so no clock is frozen)."""

from datetime import date, datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone
from django_fsm_log.models import StateLog

from apps.insight import team as team_module
from apps.insight.team import percentile, team_flow
from apps.tasks.models import Task, WipLimits

START, END = date(2026, 11, 2), date(2026, 11, 8)  # Monday to Sunday


def at(day: int, hour: int) -> datetime:
    return timezone.make_aware(datetime(2026, 11, day, hour))


@pytest.fixture
def history(team, make_task, member, other_member):
    """A: created 2 Nov 9h, assigned 10h, in progress 3 Nov 10h, done 5 Nov 10h (2 days).
    B: created 3 Nov 9h, assigned 11h, in progress 4 Nov 10h, done 9 Nov (next week).
    C: created 4 Nov, never moves. D: created 2 Nov 8h, in progress 12h, done 3 Nov 0h
    (half a day). A and B are the member's, D the other member's."""
    ct = ContentType.objects.get_for_model(Task)
    plan = {
        "A": (
            at(2, 9),
            member,
            [(at(2, 10), "assigned"), (at(3, 10), "in_progress"), (at(5, 10), "done")],
        ),
        "B": (
            at(3, 9),
            member,
            [(at(3, 11), "assigned"), (at(4, 10), "in_progress"), (at(9, 10), "done")],
        ),
        "C": (at(4, 9), None, []),
        "D": (at(2, 8), other_member, [(at(2, 12), "in_progress"), (at(3, 0), "done")]),
    }
    StateLog.objects.filter(content_type=ct).delete()
    for title, (created, assignee, moves) in plan.items():
        task = make_task(title=title)
        Task.objects.filter(pk=task.pk).update(created_at=created, assignee=assignee)
        source = "todo"
        for when, state in moves:
            StateLog.objects.create(
                timestamp=when,
                source_state=source,
                state=state,
                transition="t",
                content_type=ct,
                object_id=task.pk,
            )
            source = state
    WipLimits.objects.create(team=team, limits={"in_progress": 1})
    return plan


def test_cumulative_flow_counts_each_state_at_the_end_of_each_day(team, history):
    flow = team_flow(team=team, start=START, end=END)
    assert flow.cfd["todo"][:4] == [0, 0, 1, 1]
    assert flow.cfd["assigned"][:4] == [1, 1, 0, 0]
    assert flow.cfd["in_progress"][:4] == [1, 1, 2, 1]
    assert flow.cfd["done"][:4] == [0, 1, 1, 2]
    assert flow.cfd["done"][-1] == 2  # B is done on the 9th, after the period


def test_throughput_cycle_time_and_percentiles(team, history):
    flow = team_flow(team=team, start=START, end=END)
    assert flow.throughput == [(START, 2)]
    assert sorted(c[3] for c in flow.cycle) == [0.5, 2.0]
    assert (flow.p50, flow.p85) == (0.5, 2.0)
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 85) == 9


def test_wip_against_limits_and_load_against_capacity(team, history, member, other_member):
    flow = team_flow(team=team, start=START, end=END)
    assert flow.wip["in_progress"] == [1, 1, 2, 1, 1, 1, 1]
    assert flow.limits == {"in_progress": 1}
    assert flow.load[member.display_name] == [1, 2, 2, 1, 1, 1, 1]
    assert flow.load[other_member.display_name] == [1, 0, 0, 0, 0, 0, 0]
    assert other_member.display_name in flow.idle
    assert member.display_name not in flow.idle and not flow.overloaded


def test_the_page_shows_every_chart_in_a_few_queries(
    client_for, member, team, history, django_assert_max_num_queries
):
    url = reverse("insight:team", args=[team.slug])
    client = client_for(member)
    with django_assert_max_num_queries(14):
        response = client.get(url, {"start": "2026-11-02", "end": "2026-11-08"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('<svg class="chart"') == 5
    assert "<title>Cumulative flow</title>" in body
    assert "Half the tasks took 0.5 days or less" in body
    idle_sentence = body.split("Idle now (no active task):")[1].split("</p>")[0]
    assert history["D"][1].display_name in idle_sentence


def test_queries_do_not_grow_with_tasks_or_the_period(
    client_for, member, other_member, team, history, make_task, django_assert_max_num_queries
):
    ct = ContentType.objects.get_for_model(Task)
    for i in range(30):
        task = make_task(title=f"more {i}")
        Task.objects.filter(pk=task.pk).update(
            created_at=at(2, 9), assignee=member if i % 2 else other_member
        )
        for source, state, day in [("todo", "assigned", 3), ("assigned", "in_progress", 4)]:
            StateLog.objects.create(
                timestamp=at(day, 9 + i % 5),
                source_state=source,
                state=state,
                transition="t",
                content_type=ct,
                object_id=task.pk,
            )
    client = client_for(member)
    url = reverse("insight:team", args=[team.slug])
    for params in [
        {"start": "2026-11-02", "end": "2026-11-08"},
        {"start": "2025-11-09", "end": "2026-11-08"},
        {"weeks": "26"},
        {"start": "2026-11-02", "end": "2026-11-08", "csv": "cycle"},
        {"start": "2026-11-02", "end": "2026-11-08", "csv": "load"},
    ]:
        with django_assert_max_num_queries(14):
            assert client.get(url, params).status_code == 200
    flow = team_flow(team=team, start=START, end=END)
    assert flow.cfd["in_progress"][2:4] == [2 + 30, 1 + 30]  # the 30 started on the 4th


def test_the_control_chart_draws_the_latest_tasks_and_counts_them_all(team, history, monkeypatch):
    monkeypatch.setattr(team_module, "CYCLE_SHOWN", 1)
    flow = team_flow(team=team, start=START, end=END)
    assert [c[1] for c in flow.cycle_shown] == ["A"]  # done on the 5th, D on the 3rd
    assert flow.cycle_count == 2
    assert (flow.p50, flow.p85) == (0.5, 2.0)  # D's half day still counts
    every = team_flow(team=team, start=START, end=END, only="cycle")
    assert [c[1] for c in every.cycle] == ["D", "A"]


def test_csv_download_has_a_filename_and_the_numbers(client_for, member, team, history):
    response = client_for(member).get(
        reverse("insight:team", args=[team.slug]),
        {"start": "2026-11-02", "end": "2026-11-08", "csv": "throughput"},
    )
    assert response["Content-Type"].startswith("text/csv")
    assert (
        f'filename="{team.slug}-throughput-2026-11-02-2026-11-08.csv"'
        in response["Content-Disposition"]
    )
    assert response.content.decode().splitlines() == ["week_starting,done", "2026-11-02,2"]


def test_the_cycle_and_cfd_csvs_have_the_pages_numbers(client_for, member, team, history):
    url = reverse("insight:team", args=[team.slug])
    period = {"start": "2026-11-02", "end": "2026-11-08"}
    cycle = client_for(member).get(url, {**period, "csv": "cycle"}).content.decode()
    rows = [line.split(",")[1:] for line in cycle.splitlines()[1:]]
    assert rows == [["D", "2026-11-03", "0.5"], ["A", "2026-11-05", "2.0"]]
    cfd = client_for(member).get(url, {**period, "csv": "cfd"}).content.decode().splitlines()
    heads = cfd[0].split(",")
    third = dict(zip(heads, cfd[3].split(","), strict=True))  # 4 Nov
    assert (third["day"], third["todo"], third["in_progress"], third["done"]) == (
        "2026-11-04",
        "1",
        "2",
        "1",
    )


@pytest.mark.parametrize(
    "params, message",
    [
        ({"start": "2026-11-08", "end": "2026-11-02"}, "must not be after"),
        ({"start": "2025-01-01", "end": "2026-11-02"}, "at most a year"),
        ({"weeks": "5"}, "Select a valid choice"),
        ({"csv": "secrets"}, "Select a valid choice"),
    ],
)
def test_a_bad_period_is_refused_in_words(client_for, member, team, params, message):
    response = client_for(member).get(reverse("insight:team", args=[team.slug]), params)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_another_team_is_not_found(client_for, outsider, team):
    response = client_for(outsider).get(reverse("insight:team", args=[team.slug]))
    assert response.status_code == 404


def test_members_find_insight_in_the_navigation(client_for, member, team):
    response = client_for(member).get(reverse("boards:board", args=[team.slug]))
    assert reverse("insight:team", args=[team.slug]) in response.content.decode()


@pytest.mark.postgres
def test_same_figures_on_postgresql(team, history):
    flow = team_flow(team=team, start=START, end=END)
    assert flow.cfd["in_progress"][:4] == [1, 1, 2, 1]
    assert (flow.p50, flow.p85) == (0.5, 2.0)
