"""The health checks behind /healthz and `manage.py health`.

Five checks, each bounded in time and each answering ok or not with a few figures:
- database: a trivial query works (and how long it took);
- broker: a connection to CELERY_BROKER_URL opens within RELAY_HEALTH_BROKER_TIMEOUT (eager
  mode has no broker: healthy);
- worker: the heartbeat a worker stamps every 30 s (apps.health.tasks) is recent (eager: no
  worker needed, healthy);
- outbox: the oldest undelivered notification is younger than RELAY_HEALTH_OUTBOX_MAX_AGE;
- stranded_runs: no running run waits on an automated step whose action started longer ago
  than RELAY_ACTION_TIMEOUT + RELAY_HEALTH_STRANDED_GRACE.

The broker is probed in a thread while the database checks run, so the whole report takes the
longer of the two, never their sum. Nothing in a report comes from a URL or an exception's
message (both may name hosts or carry passwords): failures say what failed in Relay's words
and the exception's type; the log has the rest.
"""

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.notifications.selectors import oldest_undelivered_at
from apps.workflows.selectors import stranded_automated_steps

from .conf import conf
from .selectors import last_heartbeat

logger = logging.getLogger(__name__)

CHECKS = ("database", "broker", "worker", "outbox", "stranded_runs")
DATABASE_CHECKS = ("worker", "outbox", "stranded_runs")


class UnknownCheck(ValueError):
    pass


@dataclass
class Result:
    ok: bool
    says: str  # one line for a person (the command's table; `error` in JSON when failing)
    facts: dict = field(default_factory=dict)
    ms: float = 0.0

    def as_json(self) -> dict:
        data = {"ok": self.ok, "ms": round(self.ms, 1), **self.facts}
        if not self.ok:
            data["error"] = self.says
        return data


@dataclass
class Report:
    results: dict[str, Result]

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results.values())

    def as_json(self) -> dict:
        return {
            "status": "ok" if self.ok else "fail",
            "checks": {name: result.as_json() for name, result in self.results.items()},
        }


def selected(names: Iterable[str] | None) -> tuple[str, ...]:
    """The checks to run, in their usual order; raises UnknownCheck for a name not in CHECKS."""
    if names is None:
        return CHECKS
    wanted = {name.strip() for name in names if name.strip()}
    unknown = wanted - set(CHECKS)
    if unknown or not wanted:
        named = ", ".join(sorted(unknown)) or "(none given)"
        raise UnknownCheck(f"Unknown check {named}; the checks are {', '.join(CHECKS)}.")
    return tuple(name for name in CHECKS if name in wanted)


def run(names: Iterable[str] | None = None) -> Report:
    names = selected(names)
    results: dict[str, Result] = {}
    probe = None
    broker_deadline = time.monotonic() + conf("RELAY_HEALTH_BROKER_TIMEOUT") + 0.25
    if "broker" in names:
        # A fresh thread each time: a probe stuck past its timeouts (a hanging DNS lookup)
        # must not hold up the next report, which would queue behind it in a shared pool.
        # Celery's current app is thread-local: the probe gets this thread's.
        app = current_app._get_current_object()
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relay-health-broker")
        probe = pool.submit(_timed, "broker", lambda: check_broker(app))
        pool.shutdown(wait=False)
    database_ok = True
    for name in names:
        if name == "broker":
            continue
        if name in DATABASE_CHECKS and not database_ok:
            results[name] = Result(False, "Not checked: the database is unreachable.")
            continue
        results[name] = _timed(name, CHECK_FUNCTIONS[name])
        database_ok = database_ok and (name != "database" or results[name].ok)
    if probe is not None:
        limit = conf("RELAY_HEALTH_BROKER_TIMEOUT")
        try:
            results["broker"] = probe.result(timeout=max(0, broker_deadline - time.monotonic()))
        except FutureTimeout:
            results["broker"] = Result(
                False, f"No answer from the broker within {limit:g} s.", ms=limit * 1000
            )
    return Report(results={name: results[name] for name in names})


def _timed(name: str, check: Callable[[], Result]) -> Result:
    started = time.perf_counter()
    try:
        result = check()
    except Exception as exc:  # a check that breaks is a failed check, never a 500
        logger.warning("Health check %s failed", name, exc_info=True)
        result = Result(False, f"The {name} check failed ({type(exc).__name__}).")
    result.ms = (time.perf_counter() - started) * 1000
    return result


@contextmanager
def _bounded_query():
    """On PostgreSQL, a transaction whose statements are cancelled after
    RELAY_HEALTH_QUERY_TIMEOUT (a local setting: it ends with the transaction, so a pooled
    connection keeps none). SQLite (embedded, one machine) runs them as they are: a
    transaction there would take the write lock (transaction_mode IMMEDIATE)."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        milliseconds = int(conf("RELAY_HEALTH_QUERY_TIMEOUT") * 1000)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true)", [f"{milliseconds}ms"]
            )
        yield


def _eager() -> bool:
    return bool(current_app.conf.task_always_eager)


def _age(then) -> float:
    return round((timezone.now() - then).total_seconds(), 1)


# --- the checks ---------------------------------------------------------------------------------


def check_database() -> Result:
    with _bounded_query(), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return Result(True, "A query works.")


def check_broker(app=current_app) -> Result:
    if app.conf.task_always_eager:
        return Result(
            True, "Eager mode: no broker, tasks run in the web process.", {"mode": "eager"}
        )
    limit = conf("RELAY_HEALTH_BROKER_TIMEOUT")
    broker = app.connection_for_write(
        connect_timeout=limit,
        # Redis: the connect and every read (its PING) bounded; AMQP uses connect_timeout.
        transport_options={"socket_connect_timeout": limit, "socket_timeout": limit},
    )
    try:
        broker.ensure_connection(max_retries=0, timeout=limit)
    except Exception as exc:
        logger.warning("Health check: the broker is unreachable: %r", exc)
        return Result(False, f"The broker is unreachable ({type(exc).__name__}).")
    finally:
        broker.release()
    return Result(True, "The broker accepts connections.")


def check_worker() -> Result:
    if _eager():
        return Result(True, "Eager mode: tasks run in the web process.", {"mode": "eager"})
    limit = conf("RELAY_HEALTH_HEARTBEAT_MAX_AGE")
    with _bounded_query():
        last = last_heartbeat()
    if last is None:
        return Result(
            False,
            "No worker heartbeat yet: are a worker and beat running?",
            {"age_s": None, "max_age_s": limit},
        )
    age = _age(last)
    if age > limit:
        return Result(
            False,
            f"The last worker heartbeat is {age:.0f} s old (limit {limit:g} s): "
            "are a worker and beat running?",
            {"age_s": age, "max_age_s": limit},
        )
    return Result(True, f"A worker answered {age:.0f} s ago.", {"age_s": age, "max_age_s": limit})


def check_outbox() -> Result:
    limit = conf("RELAY_HEALTH_OUTBOX_MAX_AGE")
    with _bounded_query():
        oldest = oldest_undelivered_at()
    age = _age(oldest) if oldest else None
    facts = {"oldest_age_s": age, "max_age_s": limit}
    if age is not None and age > limit:
        return Result(
            False,
            f"The oldest undelivered notification is {age:.0f} s old (limit {limit:g} s).",
            facts,
        )
    if age is None:
        return Result(True, "Nothing waits to be e-mailed.", facts)
    return Result(True, f"The oldest undelivered notification is {age:.0f} s old.", facts)


def check_stranded_runs() -> Result:
    timeout = settings.RELAY_ACTION_TIMEOUT + conf("RELAY_HEALTH_STRANDED_GRACE")
    with _bounded_query():
        stranded = stranded_automated_steps(
            started_before=timezone.now() - timedelta(seconds=timeout)
        )
    facts = {"count": stranded.count, "timeout_s": timeout}
    if not stranded.count:
        return Result(True, "No automated step is past its timeout.", facts)
    age = _age(stranded.oldest_started_at)
    facts |= {"oldest_age_s": age, "oldest_run_id": stranded.oldest_run_id}
    return Result(
        False,
        f"{stranded.count} run(s) wait on an automated step started more than {timeout:g} s "
        f"ago; the oldest (run {stranded.oldest_run_id}) started {age:.0f} s ago.",
        facts,
    )


CHECK_FUNCTIONS: dict[str, Callable[[], Result]] = {
    "database": check_database,
    "broker": check_broker,
    "worker": check_worker,
    "outbox": check_outbox,
    "stranded_runs": check_stranded_runs,
}
