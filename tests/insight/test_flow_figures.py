"""Each figure of a workflow's insight equal to the value computed by hand (builders.py says
the runs). Runs on SQLite and, in CI's second pass, on PostgreSQL: the same file, both paths."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.insight import flow

from .builders import H, hand_computed

pytestmark = pytest.mark.django_db


@pytest.fixture
def t0():
    return (timezone.now() - timedelta(days=5)).replace(microsecond=0)


@pytest.fixture
def insight(team, member, t0):
    template = hand_computed(team=team, owner=member, t0=t0)
    period = flow.Period(start=t0 - timedelta(days=1), end=t0 + timedelta(days=2), label="t")
    return flow.workflow_insight(versions=[template], chosen=None, period=period)


def _step(insight, key):
    return next(s for s in insight.steps if s.key == key)


def hours(value):
    return round(value / 3600, 4)


def test_percentile_interpolates_like_percentile_cont():
    assert flow.percentile([1, 2, 3, 4], 50) == 2.5
    assert flow.percentile([1, 1, 2, 3], 85) == pytest.approx(2.55)
    assert flow.percentile([], 50) is None


def test_waiting_times_per_step(insight):
    draft, review = _step(insight, "draft"), _step(insight, "review")
    # draft waited 1, 2, 1, 3 h; review 2, 4, 1, 4 h
    assert hours(draft.waiting_median) == 1.5
    assert hours(draft.waiting_p85) == 2.55
    assert hours(review.waiting_median) == 3
    assert hours(review.waiting_p85) == 4


def test_working_times_per_step(insight):
    draft, review = _step(insight, "draft"), _step(insight, "review")
    # draft worked 2, 2, 1, 3 h; review 1, 1, 1, 2 h
    assert hours(draft.working_median) == 2
    assert hours(draft.working_p85) == 2.55
    assert hours(review.working_median) == 1
    assert hours(review.working_p85) == 1.55


def test_runs_through_each_step(insight):
    assert (_step(insight, "draft").runs, _step(insight, "draft").tasks) == (3, 4)
    assert (_step(insight, "review").runs, _step(insight, "review").tasks) == (3, 4)


def test_loop_back_rate_and_where_it_goes(insight):
    assert _step(insight, "review").loop_back_rate == 0.25  # 1 of 4 finished reviews
    assert _step(insight, "draft").loop_back_rate == 0
    [loop] = insight.loops
    assert (loop.source, loop.target, loop.count, loop.rate) == ("review", "draft", 1, 0.25)


def test_first_pass_yield(insight):
    assert _step(insight, "review").first_pass_yield == pytest.approx(2 / 3)
    assert _step(insight, "draft").first_pass_yield == 1
    assert insight.run_yield == pytest.approx(2 / 3)  # run two looped back


def test_sla_misses(insight):
    review = _step(insight, "review")
    assert (review.sla_missed, review.sla_tracked) == (2, 4)


def test_lead_time_and_its_distribution(insight):
    assert sorted(hours(v) for v in insight.lead_times) == [6, 12, 13]
    assert hours(insight.lead_median) == 12
    assert hours(insight.lead_p85) == 12.7
    bins = insight.histogram
    assert sum(b.count for b in bins) == 3
    assert bins[-1].count == 2 and hours(bins[-1].end) == 13  # 12 h and 13 h in the last bar


def test_bottleneck_is_the_step_holding_runs_longest(insight):
    # draft held runs 3 + 4 + 2 + 6 = 15 h, review 3 + 5 + 2 + 6 = 16 h
    assert insight.bottleneck.key == "review"
    assert insight.bottleneck_share == pytest.approx(16 / 31)
    sentence = flow.bottleneck_sentence(insight)
    assert sentence.startswith("Review is the bottleneck: its tasks took 52%")
    assert "median 3 h waiting, 1 h working" in sentence


def test_arrow_counts_for_the_diagram(insight):
    steps = {s.key: s.pk for s in insight.diagram_steps}
    assert insight.edge_runs[(steps["draft"], steps["review"])] == 4
    assert insight.edge_runs[(steps["review"], "end")] == 3
    assert insight.edge_runs[(steps["review"], steps["draft"])] == 1


def test_tasks_outside_the_period_are_left_out(team, member, t0):
    template = hand_computed(team=team, owner=member, t0=t0)
    later = flow.Period(start=t0 + 20 * H, end=t0 + 30 * H, label="later")
    insight = flow.workflow_insight(versions=[template], chosen=None, period=later)
    assert sum(s.tasks for s in insight.steps) == 0
    assert insight.bottleneck is None
    assert "no bottleneck" in flow.bottleneck_sentence(insight)
