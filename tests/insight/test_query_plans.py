"""The insight pages read PostgreSQL through indexes and the summary, never the transition log.

Two teams with a workflow each, 1,200 runs of two tasks and their log rows (ten per task),
analyzed so the planner chooses as it would at scale (bench/insight.py, 100,000 tasks): every
statement of the pages is EXPLAINed. No statement reads the log (its cost would grow with
the history, which is what the summary is for); for the short periods, no big table is read
whole either.
"""

import random
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_fsm_log.models import StateLog

from apps.core.plans import _nodes, plan_of, seq_scans, table_sizes
from apps.people.models import Membership, Role, Team, User
from apps.tasks.models import State, Task
from apps.workflows.models import Run, RunStatus

from .builders import review_flow

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

RUNS_PER_TEAM = 600
ABOVE = 2_000
LOG = StateLog._meta.db_table


def _history(team: Team, owner: User, rng: random.Random) -> None:
    template = review_flow(team=team)
    steps = list(template.steps.order_by("position"))
    now = timezone.now()
    runs = Run.objects.bulk_create(
        Run(
            template=template,
            team=team,
            owner=owner,
            title=f"run {i}",
            status=RunStatus.COMPLETED,
            started_at=now - timedelta(days=rng.uniform(1, 360)),
        )
        for i in range(RUNS_PER_TEAM)
    )
    tasks, times = [], []
    for run in runs:
        t = run.started_at
        for step in steps:
            start, end = t + timedelta(hours=2), t + timedelta(hours=5)
            tasks.append(
                Task(
                    team=team,
                    title=f"{run.title} {step.key}",
                    run=run,
                    step=step,
                    assignee=owner,
                    state=State.DONE,
                    outcome="approved" if step.key == "review" else "done",
                    created_at=t,
                    finished_at=end,
                )
            )
            times.append((t, start, end))
            t = end
    Task.objects.bulk_create(tasks, batch_size=1_000)
    kind = ContentType.objects.get_for_model(Task)
    marks = [("todo", "assigned"), ("assigned", "in_progress")]
    marks += [("in_progress", "on_hold"), ("on_hold", "in_progress")] * 3
    marks += [("in_progress", "in_review"), ("in_review", "done")]
    logs = []
    for task, (created, start, end) in zip(tasks, times, strict=True):
        span = (end - start) / len(marks)
        for i, (source, state) in enumerate(marks):
            at = created if i == 0 else start + span * (i - 1)
            logs.append(
                StateLog(
                    content_type=kind,
                    object_id=task.pk,
                    source_state=source,
                    state=state,
                    transition="t",
                    timestamp=at,
                )
            )
    StateLog.objects.bulk_create(logs, batch_size=2_000)


@pytest.fixture
def data_set():
    rng = random.Random(13)
    teams = []
    for k in range(2):
        team = Team.objects.create(name=f"Plans {k}", slug=f"plans-{k}")
        lead = User.objects.create(username=f"plans-lead-{k}")
        Membership.objects.create(team=team, user=lead, role=Role.LEAD)
        _history(team, lead, rng)
        teams.append((team, lead))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return teams


def _queries(user: User, url: str, params: dict) -> list[dict]:
    client = Client()
    client.force_login(user)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params).status_code == 200
    return captured.captured_queries


def _reads_the_log(queries) -> list[str]:
    return [
        q["sql"][:300]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))
        and any(node.get("Relation Name") == LOG for node in _nodes(plan_of(q["sql"])))
    ]


def _year() -> dict:
    today = timezone.localdate()
    return {"start": str(today - timedelta(days=365)), "end": str(today - timedelta(days=1))}


def test_the_team_page_reads_the_summary_not_the_log(data_set):
    team, lead = data_set[0]
    url = reverse("insight:team", args=[team.slug])
    for params, short in [({}, True), ({"weeks": "12"}, True), (_year(), False)]:
        queries = _queries(lead, url, params)
        assert not _reads_the_log(queries), params
        if short:
            scans = seq_scans(queries, sizes=table_sizes(), above=ABOVE)
            assert not scans, "\n".join(map(str, scans))


def test_the_workflow_page_reads_the_summary_not_the_log(data_set):
    team, lead = data_set[0]
    url = reverse("insight:workflow", args=[team.slug, "review-flow"])
    for params, short in [({"last": "7"}, True), ({"last": "30"}, True), (_year(), False)]:
        queries = _queries(lead, url, params)
        assert not _reads_the_log(queries), params
        if short:
            scans = seq_scans(queries, sizes=table_sizes(), above=ABOVE)
            assert not scans, "\n".join(map(str, scans))
