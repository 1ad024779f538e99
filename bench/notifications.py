"""Throughput of notification e-mails: Celery + Redis + one worker + a local aiosmtpd sink.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/relay_notifications_bench \
        .venv/bin/python bench/notifications.py [--count 3000] [--concurrency 2]

RELAY_BENCH_DATABASE names the throwaway database (default relay_bench_notifications), so two
people sharing a PostgreSQL server don't drop each other's.

Needs PostgreSQL (the worker is another process, so the database must be shared) and Redis
(database 3 of REDIS_URL's server, flushed first). Prints e-mails per second for one Celery
message per e-mail (what on_commit sends) and for the sweeper's batches of 100, plus the
database queries per delivered e-mail, and os.cpu_count().
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.throwaway import use_throwaway_database  # noqa: E402

# The worker process shares the database, so this one needs PostgreSQL.
try:
    use_throwaway_database(
        os.environ.get("RELAY_BENCH_DATABASE", "relay_bench_notifications"),
        postgres_required=True,
    )
    NO_DATABASE = None
except Exception as error:  # reported by main(), which skips
    NO_DATABASE = error
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workflow_site.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from apps.notifications.models import EmailStatus, Kind, Notification  # noqa: E402
from apps.notifications.services import delivery  # noqa: E402
from apps.notifications.tasks import deliver  # noqa: E402
from apps.people.models import User  # noqa: E402
from tests.services.notification_harness import (  # noqa: E402
    Worker,
    flush_redis,
    publishing_to,
    redis_url,
    smtp_sink,
    wait_for,
)


def database_url() -> str:
    return os.environ["DATABASE_URL"]


def ensure_database() -> None:
    if NO_DATABASE is not None:
        raise NO_DATABASE
    call_command("migrate", verbosity=0)


def make_rows(count: int, prefix: str) -> list[int]:
    people = [
        User.objects.get_or_create(username=f"bench{i}", defaults={"email": f"b{i}@bench.test"})[0]
        for i in range(10)
    ]
    rows = Notification.objects.bulk_create(
        Notification(
            recipient=people[i % len(people)],
            kind=Kind.ASSIGNED,
            key=f"{prefix}:{i}",
            payload={"title": f"Benchmark task {i}", "by": "Bench"},
        )
        for i in range(count)
    )
    return [row.pk for row in rows]


def sent(ids) -> int:
    return Notification.objects.filter(pk__in=ids, email_status=EmailStatus.SENT).count()


def run(ids, batch: int, sink, worker) -> tuple[float, float, float]:
    """Deliver `ids` in Celery messages of `batch` ids; returns the seconds it took, the CPU
    seconds the worker used and those this process used (the SMTP sink, publishing, polling)."""
    before = sink.count()
    cpu_before = worker.cpu_seconds()
    own_before = time.process_time()
    started = time.perf_counter()
    for start in range(0, len(ids), batch):
        deliver.apply_async(args=[ids[start : start + batch]])
    wait_for(lambda: sink.count() - before >= len(ids), timeout=600, interval=0.02)
    wait_for(lambda: sent(ids) == len(ids), timeout=60, interval=0.02)
    elapsed = time.perf_counter() - started
    own = time.process_time() - own_before
    return elapsed, worker.cpu_seconds() - cpu_before, own


def queries_per_email(batch: int, count: int = 200) -> float:
    """Database queries per delivered e-mail, counted in this process on the same code path
    (a locmem mailer instead of SMTP), for Celery messages of `batch` ids."""
    from django.test import override_settings

    ids = make_rows(count, f"queries{batch}")
    locmem = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    with override_settings(MAILERS=locmem), CaptureQueriesContext(connection) as captured:
        for start in range(0, count, batch):
            delivery.deliver(ids=ids[start : start + batch])
    return len(captured) / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pool", default="prefork", choices=["prefork", "threads", "solo"])
    args = parser.parse_args()

    try:
        ensure_database()
        flush_redis(redis_url())
    except Exception as error:  # no PostgreSQL or Redis here: say so rather than fail `make bench`
        print(f"skipped: needs PostgreSQL and Redis ({type(error).__name__}: {error})")
        return
    Notification.objects.all().delete()
    broker = redis_url()
    flush_redis(broker)
    with smtp_sink() as (sink, port), publishing_to(broker):
        worker = Worker(
            database_url=database_url(),
            broker_url=broker,
            smtp_port=port,
            concurrency=args.concurrency,
            pool=args.pool,
            extra_env={"NOTIFICATIONS_CLAIM_LEASE": "300"},
        )
        try:
            warm = make_rows(50, "warmup")
            run(warm, 1, sink, worker)
            load = os.getloadavg()[0]
            single, single_cpu, single_own = run(make_rows(args.count, "single"), 1, sink, worker)
            batched, batched_cpu, batched_own = run(
                make_rows(args.count, "batched"), 100, sink, worker
            )
        except AssertionError:
            print(worker.output(), file=sys.stderr)
            raise
        finally:
            worker.close()
        duplicates = sum(c - 1 for c in sink.by_key().values() if c > 1)
    per_email_single, per_email_batched = queries_per_email(1), queries_per_email(100)
    Notification.objects.all().delete()
    flush_redis(broker)

    n = args.count
    print(f"cpu_count: {os.cpu_count()}; load average at start: {load:.1f}")
    print(f"worker: 1 ({args.pool}, concurrency {args.concurrency}); e-mails per run: {n}")
    print(
        f"one Celery message per e-mail : {n / single:8.1f} e-mails/s ({single:.2f} s; "
        f"worker CPU {1000 * single_cpu / n:.2f} ms, sink+bench CPU {1000 * single_own / n:.2f} ms"
        " per e-mail)"
    )
    print(
        f"batches of 100 (the sweeper)  : {n / batched:8.1f} e-mails/s ({batched:.2f} s; "
        f"worker CPU {1000 * batched_cpu / n:.2f} ms, "
        f"sink+bench CPU {1000 * batched_own / n:.2f} ms per e-mail)"
    )
    print(
        f"database queries per e-mail   : {per_email_single:.2f} one per message, "
        f"{per_email_batched:.2f} in batches of 100"
    )
    print(f"duplicates at the sink        : {duplicates}")


if __name__ == "__main__":
    main()
