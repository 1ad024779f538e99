"""The waiting-time alert: a step waiting over twice its usual median this week tells the
team's leads once, however often the beat runs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.insight import alerts
from apps.notifications.models import Kind, Notification
from apps.tasks.reminders import digest_content

from .builders import add_run, review_flow

pytestmark = pytest.mark.django_db


def _runs(template, owner, *, days_ago, review_wait_h, n=3):
    t0 = timezone.now() - timedelta(days=days_ago)
    for i in range(n):
        add_run(
            template=template,
            owner=owner,
            t0=t0,
            title=f"{days_ago}-{i}",
            tasks=[
                ("draft", 1, 0, 1, 2, "done"),
                ("review", 1, 2, 2 + review_wait_h, 3 + review_wait_h, "approved"),
            ],
        )


@pytest.fixture
def slow_review(team, member):
    template = review_flow(team=team)
    _runs(template, member, days_ago=30, review_wait_h=1)  # usually: reviews wait 1 h
    _runs(template, member, days_ago=2, review_wait_h=5)  # this week: 5 h
    return template


def test_slow_step_alerts_each_lead_once_however_often_it_runs(slow_review, lead, make_member):
    from apps.people.models import Role

    make_member(Role.LEAD, username="lena")  # mia, a member, hears nothing
    assert alerts.alert_slow_steps() == 2
    assert alerts.alert_slow_steps() == 0
    rows = Notification.objects.filter(kind=Kind.SLOW_STEP)
    assert sorted(n.recipient.username for n in rows) == ["lena", "leo"]
    note = rows.first().payload
    assert note["title"] == "Review flow: Review is waiting longer than usual"
    assert "5 h this week, against 1 h usually" in note["note"]
    assert note["url"].endswith("/insight/workflows/review-flow/")


def test_the_alert_is_in_the_leads_digest(slow_review, lead):
    alerts.alert_slow_steps()
    content = digest_content(user=lead, since=timezone.now() - timedelta(hours=1))
    assert any("Review is waiting longer than usual" in str(c) for c in content["changes"])


def test_a_step_as_slow_as_usual_alerts_nobody(team, member, lead):
    template = review_flow(team=team)
    _runs(template, member, days_ago=30, review_wait_h=2)
    _runs(template, member, days_ago=2, review_wait_h=3)  # slower, but not twice as slow
    assert alerts.alert_slow_steps() == 0


def test_too_few_tasks_this_week_alert_nobody(team, member, lead):
    template = review_flow(team=team)
    _runs(template, member, days_ago=30, review_wait_h=1)
    _runs(template, member, days_ago=2, review_wait_h=9, n=2)
    assert alerts.alert_slow_steps() == 0
