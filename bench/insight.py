"""Insight pages at scale: a team with 100,000 tasks and 1,000,000 transition-log rows.

Builds the data once on PostgreSQL, in the database `relay_insight_bench` (kept, and re-used
when present: building takes a few minutes), with COPY; then prints the p50 and p90 of the
insight pages — the workflow page and its CSV for each period its form offers (7, 30, 90 days
and a year), the team page and its cumulative-flow and control-chart CSVs for each (4, 12, 26
weeks and a year) — and their query counts, in-process (Django's test client), next to a
reference measured in the same run: the team's task list page. Under load the reference
moves too; the "x the reference" column is the figure to compare between runs.

    .venv/bin/python bench/insight.py                       # PostgreSQL at 127.0.0.1:5432
    BENCH_REBUILD=1 .venv/bin/python bench/insight.py       # drop the data and build again
"""

import io
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB = os.environ.get("BENCH_DB", "relay_insight_bench")
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
RUNS, STEPS_PER_RUN, LOGS_PER_TASK = 20_000, 5, 10  # 100,000 tasks, 1,000,000 log rows
REPEAT = int(os.environ.get("BENCH_REPEAT", "15"))


def _ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB}"')
    os.environ["DATABASE_URL"] = f"{SERVER}/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workflow_site.settings")


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    buffer.seek(0)
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        while chunk := buffer.read(1 << 20):
            copy.write(chunk)


def build():
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from django_fsm_log.models import StateLog

    from apps.people.models import Membership, Role, Team, User
    from apps.tasks.models import Task
    from apps.workflows import definitions, exchange
    from apps.workflows.models import Run

    team = Team.objects.filter(slug="insight-bench").first()
    if team and not os.environ.get("BENCH_REBUILD"):
        return team
    if team:
        StateLog.objects.all().delete()
        Task.objects.filter(team=team).delete()
        Run.objects.filter(team=team).delete()
        team.templates.all().delete()
        team.delete()
    started = time.perf_counter()
    team = Team.objects.create(name="Insight bench", slug="insight-bench")
    lead, _ = User.objects.get_or_create(username="bench-lead", defaults={"email": "l@x.test"})
    Membership.objects.get_or_create(team=team, user=lead, defaults={"role": Role.LEAD})
    data = definitions.TEMPLATES[0] if hasattr(definitions, "TEMPLATES") else None
    template = _template(team, exchange, definitions, data)
    steps = list(template.steps.order_by("position", "pk"))[:STEPS_PER_RUN]
    rng = random.Random(13)
    now = datetime.now(UTC)
    kind = ContentType.objects.get_for_model(Task).pk
    with connection.cursor() as cursor:
        raw = cursor.cursor
        # Bulk seeding: no trigger fires for the COPY (the page-version counters and the
        # insight summary's); the summary is counted after it, as `rebuild_insight` would.
        raw.execute("SET session_replication_role = replica")
        run_ids = [r[0] for r in _ids(raw, "workflows_run", RUNS)]
        task_id = _ids(raw, "tasks_task", RUNS * STEPS_PER_RUN)
        runs, tasks, logs = [], [], []
        tid = iter(r[0] for r in task_id)
        for run_id in run_ids:
            t = now - timedelta(days=rng.uniform(1, 365))
            begin = t
            for step in steps:
                created = t
                start = created + timedelta(hours=rng.expovariate(1 / 6))
                end = start + timedelta(hours=rng.expovariate(1 / 3))
                pk = next(tid)
                tasks.append(
                    (
                        pk,
                        template.team_id,
                        f"bench {run_id} {step.key}",
                        "",
                        1,
                        False,
                        lead.pk,
                        "done",
                        "",
                        "done",
                        2,
                        0,
                        1,
                        created,
                        end,
                        end,
                        run_id,
                        step.pk,
                        "",
                        None,
                        created + timedelta(hours=24),
                        "{}",
                    )
                )
                marks = [("assigned", "todo", "assign"), ("in_progress", "assigned", "start")]
                marks += [
                    ("on_hold", "in_progress", "hold"),
                    ("in_progress", "on_hold", "resume"),
                ] * 3
                marks += [("in_review", "in_progress", "submit"), ("done", "in_review", "approve")]
                span = (end - start) / len(marks)
                for i, (state, source, name) in enumerate(marks[:LOGS_PER_TASK]):
                    at = created if i == 0 else start + span * (i - 1)
                    logs.append((at, lead.pk, source, state, name, kind, pk, ""))
                t = end
            runs.append(
                (
                    run_id,
                    template.pk,
                    template.team_id,
                    f"bench {run_id}",
                    lead.pk,
                    "completed",
                    "{}",
                    "",
                    begin,
                    t,
                )
            )
        _copy(
            raw,
            "workflows_run",
            [
                "id",
                "template_id",
                "team_id",
                "title",
                "owner_id",
                "status",
                "inputs",
                "failure_reason",
                "started_at",
                "finished_at",
            ],
            runs,
        )
        _copy(
            raw,
            "tasks_task",
            [
                "id",
                "team_id",
                "title",
                "description",
                "min_level",
                "requires_review",
                "assignee_id",
                "state",
                "held_from",
                "outcome",
                "priority",
                "position",
                "iteration",
                "created_at",
                "updated_at",
                "finished_at",
                "run_id",
                "step_id",
                "automation_error",
                "reviewer_id",
                "due_at",
                "outputs",
            ],
            tasks,
        )
        _copy(
            raw,
            "django_fsm_log_statelog",
            [
                "timestamp",
                "by_id",
                "source_state",
                "state",
                "transition",
                "content_type_id",
                "object_id",
                "description",
            ],
            logs,
        )
        raw.execute("SET session_replication_role = DEFAULT")
    copied = time.perf_counter()
    from apps.insight import summary

    summary.rebuild()
    rebuilt = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # as autovacuum would: index-only scans need it
    print(
        f"built {len(tasks):,} tasks, {len(logs):,} log rows in {copied - started:.0f} s; "
        f"rebuild_insight counted them in {rebuilt - copied:.1f} s"
    )
    return team


def _ids(raw, table: str, n: int):
    raw.execute(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, {n})"
    )
    return raw.fetchall()


def _template(team, exchange, definitions, data):
    from apps.workflows.models import Route, Step, StepKind, WorkflowTemplate

    template = WorkflowTemplate.objects.create(team=team, name="Bench flow", slug="bench-flow")
    previous = None
    for i, key in enumerate(["intake", "build", "check", "review", "ship"]):
        step = Step.objects.create(
            template=template,
            key=key,
            name=key.title(),
            position=i,
            is_start=i == 0,
            sla_hours=24,
            kind=StepKind.REVIEW if key == "review" else StepKind.MANUAL,
        )
        if previous:
            Route.objects.create(
                template=template, from_step=previous, outcome="done", to_step=step
            )
        previous = step
    for outcome in ("approved", "rejected"):
        Route.objects.create(template=template, from_step=previous, outcome=outcome)
    review = template.steps.get(key="review")
    ship = template.steps.get(key="ship")
    Route.objects.filter(from_step=review).delete()
    Route.objects.create(template=template, from_step=review, outcome="approved", to_step=ship)
    Route.objects.create(template=template, from_step=review, outcome="rejected", to_step=None)
    Route.objects.create(
        template=template,
        from_step=review,
        outcome="changes_requested",
        to_step=template.steps.get(key="build"),
    )
    Route.objects.filter(from_step=ship).delete()
    Route.objects.create(template=template, from_step=ship, outcome="done", to_step=None)
    return template


def measure(client, url: str):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = client.get(url)
    if first.status_code == 404:
        return None
    times = []
    for _ in range(REPEAT):
        with CaptureQueriesContext(connection) as queries:
            t = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1], len(queries)


def main() -> None:
    _ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    call_command("migrate", verbosity=0)
    setup_test_environment()
    team = build()
    from apps.people.models import User

    client = Client()
    client.force_login(User.objects.get(username="bench-lead"))
    base = f"/teams/{team.slug}"
    today = datetime.now(UTC).date()
    year = f"start={today - timedelta(days=365)}&end={today}"
    flow_url = f"{base}/insight/workflows/bench-flow/"
    pages = [("reference: task list", f"{base}/tasks/")]
    for label, query in [
        ("7 days", "last=7"),
        ("30 days", ""),
        ("90 days", "last=90"),
        ("a year", year),
    ]:
        pages.append((f"workflow, {label}", f"{flow_url}?{query}"))
        pages.append((f"workflow CSV, {label}", f"{flow_url}figures.csv?{query}"))
    for label, query in [
        ("4 weeks", ""),
        ("12 weeks", "weeks=12"),
        ("26 weeks", "weeks=26"),
        ("a year", f"start={today - timedelta(days=365)}&end={today - timedelta(days=1)}"),
    ]:
        pages.append((f"team, {label}", f"{base}/insight/?{query}"))
        for chart in ("cfd", "cycle"):
            pages.append((f"team CSV {chart}, {label}", f"{base}/insight/?{query}&csv={chart}"))
    print(f"{os.cpu_count()} cores; {REPEAT} requests each, in-process; target p50 <= 300 ms")
    reference = None
    for label, url in pages:
        result = measure(client, url)
        if result is None:
            print(f"  {label:32} not there (404)")
            continue
        p50, p90, queries = result
        reference = reference or p50
        print(
            f"  {label:32} p50 {p50:7.1f} ms  p90 {p90:7.1f} ms  {queries:3d} queries  "
            f"x{p50 / reference:.1f} the reference"
        )


if __name__ == "__main__":
    main()
