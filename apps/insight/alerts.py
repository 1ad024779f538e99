"""The waiting-time alert: a workflow step whose tasks waited, this week, over twice as long as
they usually do tells the team's leads, once per step and week (the outbox key says which
week, so a second beat tick, or a re-run, writes nothing).

"This week" is the last seven days before the run; "usually" is the eight weeks before that.
Waiting is measured as on the insight page (created → first start; decided unstarted → until
decided). A step needs a few tasks on both sides before its medians are compared, so one slow
task in a quiet week alerts nobody.
"""

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.notifications.models import Kind
from apps.notifications.services.outbox import notify
from apps.people.selectors import leads_by_team
from apps.workflows.models import Step

from .flow import Period, humanize, percentile, task_rows

WEEK = timedelta(days=7)
USUAL_WEEKS = 8
MIN_TASKS = 3
FACTOR = 2


def slow_steps(*, now: datetime | None = None) -> list[dict]:
    """Steps (by team, template slug and step key) whose median wait this week is over
    FACTOR x their usual median."""
    now = now or timezone.now()
    since = now - WEEK * (USUAL_WEEKS + 1)
    steps = {
        s.pk: s
        for s in Step.objects.filter(template__runs__started_at__gte=since)
        .select_related("template")
        .distinct()
    }
    waits: dict = defaultdict(lambda: ([], []))
    for row in task_rows(step_ids=list(steps), period=Period(since, now, "")):
        start = row["started_at"] or row["finished_at"]
        if start is None:
            continue
        step = steps[row["step_id"]]
        this_week = start >= now - WEEK
        group = (step.template.team_id, step.template.slug, step.key)
        waits[group][0 if this_week else 1].append((start - row["created_at"]).total_seconds())
    slow = []
    for (team_id, slug, key), (recent, usual) in waits.items():
        if len(recent) < MIN_TASKS or len(usual) < MIN_TASKS:
            continue
        now_median, usual_median = percentile(recent, 50), percentile(usual, 50)
        if usual_median and now_median > FACTOR * usual_median:
            step = next(
                s
                for s in steps.values()
                if s.template.slug == slug and s.key == key and s.template.team_id == team_id
            )
            slow.append(
                {"team_id": team_id, "step": step, "now": now_median, "usual": usual_median}
            )
    return slow


@transaction.atomic
def alert_slow_steps(*, now: datetime | None = None) -> int:
    """Tell each team's leads about its slow steps; returns the notifications written."""
    now = now or timezone.now()
    slow = slow_steps(now=now)
    leads = leads_by_team(team_ids={s["team_id"] for s in slow})
    year, week, _ = now.isocalendar()
    written = 0
    for s in slow:
        step = s["step"]
        template = step.template
        written += len(
            notify(
                kind=Kind.SLOW_STEP,
                recipients=leads.get(s["team_id"], []),
                key=f"slow-step:team:{s['team_id']}:{template.slug}:{step.key}:{year}-W{week:02d}",
                payload={
                    "title": f"{template.name}: {step.name} is waiting longer than usual",
                    "step": step.name,
                    "note": (
                        f"Its tasks waited a median of {humanize(s['now'])} this week, against "
                        f"{humanize(s['usual'])} usually."
                    ),
                    "url": reverse(
                        "insight:workflow",
                        kwargs={"team_slug": template.team.slug, "template_slug": template.slug},
                    ),
                },
            )
        )
    return written
