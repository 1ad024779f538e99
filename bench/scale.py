"""Relay at a million tasks on PostgreSQL: server time of the pages people use most, and the
plan of every query they make. Prints figures; asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/scale.py
    … bench/scale.py --rebuild          # build the data set again even if its shape matches
    … bench/scale.py --log-per-task 2   # 2,000,000 transition-log rows instead of 10,000,000

The data set (bench/scale_data.py: 1,000,000 tasks in 200 teams, 5,000 open in the largest,
~10 transitions per task, comments, checklists, notifications) lives in its own database
`relay_scale` on that server. A rerun whose shape matches re-uses it (after applying any new
migration, e.g. an index), so it costs only the measurements; the few tasks the measurements
move are put back afterwards.

Measured in this process, with Django's test client (no HTTP): the largest team's board as a
lead, My work of a person with 50 active tasks, a reviewer's Awaiting my review, the board's
unchanged poll, a transition (start, through the service) and a card move (drop Assigned → In
progress, with its partial response). Every SQL statement those make is EXPLAINed; a
sequential scan of a table above 10,000 rows is reported.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workflow_site.settings")

from bench.scale_data import BIG_TABLES, Shape  # noqa: E402

NAME = "relay_scale"
BIG_ROWS = 10_000
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")


def _admin_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        url = "postgres://postgres@127.0.0.1:5432/postgres"
    return urlunparse(urlparse(url)._replace(path="/postgres"))


def existing_shape() -> str | None:
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [NAME],
        ).fetchone()
    return row[0] if row else None


def point_at(*, fresh: bool) -> None:
    import psycopg

    admin = _admin_url()
    if fresh:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{NAME}"')
    os.environ["DATABASE_URL"] = urlunparse(urlparse(admin)._replace(path=f"/{NAME}"))


def build(shape: Shape) -> float:
    """Migrate, load without the big tables' secondary indexes and foreign-key triggers,
    then index and analyze: seconds taken."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from bench import scale_data

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes i WHERE tablename = ANY(%s) AND NOT "
            "EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            [list(BIG_TABLES)],
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    with transaction.atomic(), connection.cursor() as cursor:
        # Foreign keys are right by construction; checking 15M rows one by one is the slow part.
        cursor.execute("SET LOCAL session_replication_role = replica")
        built = scale_data.build(shape)
    loaded = time.perf_counter()
    print(f"  loaded in {loaded - started:.0f} s; indexing…", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _name, definition in indexes:
            cursor.execute(definition)
        cursor.execute("VACUUM ANALYZE")
        cursor.execute(f'COMMENT ON DATABASE "{NAME}" IS %s', [shape.describe()])
    print(f"  indexed and analyzed in {time.perf_counter() - loaded:.0f} s", flush=True)
    del built
    return time.perf_counter() - started


def p(samples, q):
    return statistics.quantiles(samples, n=100)[q - 1] if len(samples) > 1 else samples[0]


def figures(label, samples, target=""):
    print(
        f"{label}: p50 {p(samples, 50):.1f} ms, p95 {p(samples, 95):.1f} ms "
        f"({len(samples)} runs){'; target ' + target if target else ''}"
    )


def measure(shape: Shape) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from apps.core.plans import seq_scans, table_sizes
    from apps.people.models import Membership, Team, User
    from apps.tasks import services
    from apps.tasks.models import UNFINISHED_STATES, State, Task

    settings.DEBUG = False
    big = Team.objects.order_by("id").first()
    lead = Membership.objects.filter(team=big, role="lead").order_by("user_id").first().user
    reviewer = Membership.objects.filter(team=big, role="reviewer").order_by("user_id").first().user
    focus = (
        User.objects.filter(pk__in=Membership.objects.filter(team=big).values("user_id"))
        .filter(active_count=shape.focus_tasks)
        .order_by("id")
        .first()
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
    sizes = table_sizes()
    print(
        f"data: {sizes.get('tasks_task', 0):,} tasks, "
        f"{sizes.get('django_fsm_log_statelog', 0):,} log rows, "
        f"{sizes.get('tasks_comment', 0):,} comments, "
        f"{sizes.get('notifications_notification', 0):,} notifications; database {size}"
    )
    print(
        f"largest team: {Task.objects.filter(team=big).count():,} tasks, "
        f"{Task.objects.filter(team=big, state__in=UNFINISHED_STATES).count():,} open; "
        f"My work of {focus.username}: {focus.active_count} active tasks"
    )
    explained: dict[str, list] = {}

    def client_for(user):
        client = Client()
        client.force_login(user)
        return client

    def page(label, client, url, runs, target="", headers=None):
        client.get(url, headers=headers or {})  # warm up
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(url, headers=headers or {})
            samples.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, headers=headers or {})
        assert response.status_code in (200, 304), (label, response.status_code)
        figures(f"{label} [{len(captured.captured_queries)} queries]", samples, target)
        explained[label] = captured.captured_queries

    board = reverse("boards:board", args=[big.slug])
    lead_client = client_for(lead)
    page("board, largest team, as a lead", lead_client, board, 15, "p50 ≤ 60 ms")
    page("My work (50 tasks)", client_for(focus), reverse("boards:my_work"), 30, "p50 ≤ 20 ms")
    page("Awaiting my review", client_for(reviewer), reverse("boards:reviews"), 15)
    poll = reverse("boards:poll", args=[big.slug])
    etag = lead_client.get(poll)["ETag"]
    page("unchanged poll (304)", lead_client, poll, 30, headers={"If-None-Match": etag})
    page("header counts (My work / review)", client_for(reviewer), reverse("boards:work_links"), 30)

    from django_fsm_log.models import StateLog

    from apps.notifications.models import Notification

    log_before = StateLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    sent_before = Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    assigned = list(
        Task.objects.filter(team=big, state=State.ASSIGNED)
        .exclude(assignee=focus)
        .select_related("assignee")
        .order_by("-position")[:80]
    )
    touched = [t.pk for t in assigned]
    try:
        samples = []
        for n, task in enumerate(assigned[:40]):
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as captured:
                services.perform_retrying(
                    task=task, action="start", by=task.assignee, expected_state=State.ASSIGNED
                )
            samples.append((time.perf_counter() - started) * 1000)
            if n == 1:
                explained["transition (start)"] = captured.captured_queries
        figures("transition (start, the service)", samples, "p95 ≤ 30 ms")
        headers = {"HX-Request": "true", "HX-Current-URL": "http://testserver" + board}
        samples, counts = [], []
        for n, task in enumerate(assigned[40:]):
            url = reverse("boards:move", args=[task.pk])
            data = {"from_state": "assigned", "to": "in_progress", "order": str(task.pk)}
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as captured:
                response = lead_client.post(url, data, headers=headers)
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content[:300]
            counts.append(
                sum(not q["sql"].startswith(TRANSACTION_CONTROL) for q in captured.captured_queries)
            )
            if n == 1:
                explained["card move"] = captured.captured_queries
        figures(
            f"card move (Assigned → In progress + partial) [{int(statistics.median(counts))} "
            "queries]",
            samples,
            "p95 ≤ 30 ms",
        )
    finally:
        # Put the data set back as it was, for the next run's figures.
        with connection.cursor() as cursor:
            cursor.execute("UPDATE tasks_task SET state = 'assigned' WHERE id = ANY(%s)", [touched])
            cursor.execute("DELETE FROM django_fsm_log_statelog WHERE id > %s", [log_before])
            cursor.execute("DELETE FROM notifications_notification WHERE id > %s", [sent_before])

    print(f"\nplans (EXPLAIN, FORMAT JSON) — sequential scans of tables above {BIG_ROWS:,} rows:")
    total = 0
    for label, queries in explained.items():
        scans = seq_scans(queries, sizes=sizes, above=BIG_ROWS)
        planned = sum(
            q["sql"].lstrip().upper().startswith(("SELECT", "WITH", "UPDATE", "INSERT", "DELETE"))
            for q in queries
        )
        total += len(scans)
        print(f"  {label}: {planned} statements, {len(scans) or 'no'} seq scans")
        if "--slowest" in sys.argv:
            for q in sorted(queries, key=lambda q: -float(q["time"]))[:3]:
                print(f"    {float(q['time']) * 1000:.1f} ms: {q['sql'][:400]}")
        for scan in scans:
            print(f"    {scan}")
    print(f"  in all: {total} sequential scans of big tables")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rebuild", action="store_true", help="build the data set again")
    parser.add_argument("--log-per-task", type=int, default=10, help="transitions per task")
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--slowest", action="store_true", help="print each request's slowest SQL")
    args = parser.parse_args()
    shape = Shape(tasks=args.tasks, log_per_task=args.log_per_task)
    load = os.getloadavg()[0]
    print(f"Relay scale bench — cpu_count={os.cpu_count()}, load average {load:.1f}")
    reuse = not args.rebuild and existing_shape() == shape.describe()
    point_at(fresh=not reuse)
    import django

    django.setup()
    if reuse:
        from django.core.management import call_command
        from django.db import connection
        from django.db.migrations.executor import MigrationExecutor

        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        print(f"re-using {NAME} (shape matches); {len(pending)} new migrations to apply")
        if pending:
            started = time.perf_counter()
            call_command("migrate", verbosity=0, interactive=False)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            print(f"  migrated and analyzed in {time.perf_counter() - started:.0f} s")
    else:
        print(f"building {NAME}: {shape.describe()}", flush=True)
        print(f"built in {build(shape):.0f} s")
    measure(shape)


if __name__ == "__main__":
    main()
