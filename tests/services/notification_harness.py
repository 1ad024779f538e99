"""Real services for notification delivery: an SMTP sink and Celery worker processes.

Used by tests/services/test_notification_delivery.py and bench/notifications.py. The sink is an
aiosmtpd server in a thread that records what it accepted; the worker is `celery worker` in its
own process group (so killing it by its pid takes its pool children with it) pointed at the
given database, broker and sink.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from urllib.parse import urlparse

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[2]


HEADERS = BytesHeaderParser()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_url() -> str:
    """Redis database 3 on the server REDIS_URL names (kept apart from other suites)."""
    if os.environ.get("NOTIFICATIONS_TEST_REDIS_URL"):
        return os.environ["NOTIFICATIONS_TEST_REDIS_URL"]
    url = urlparse(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return f"redis://{url.hostname or '127.0.0.1'}:{url.port or 6379}/3"


def database_url() -> str:
    """The database the running tests use (pytest's test database), as a URL for a worker."""
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


@dataclass
class Received:
    message_id: str
    key: str
    to: str
    raw: bytes


@dataclass
class SinkHandler:
    """Accepts everything, except by recipient: "tempfail" → 451, "permfail" → 554, "slow" →
    answers after `slow_seconds` (longer than the worker's SMTP timeout). `on_data` (if set)
    runs before each reply, e.g. to kill the worker at an exact point."""

    slow_seconds: float = 3.0
    received: list[Received] = field(default_factory=list)
    attempts: dict[str, list[float]] = field(default_factory=dict)
    on_data: object = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        to = envelope.rcpt_tos[0]
        with self.lock:
            self.attempts.setdefault(to, []).append(time.monotonic())
        if "tempfail" in to:
            return "451 4.3.0 Mailbox busy, try again later"
        if "permfail" in to:
            return "554 5.7.1 Message refused"
        if "slow" in to:
            await asyncio.sleep(self.slow_seconds)
            return "451 4.4.2 Too slow"
        if self.on_data is not None and self.on_data(to) is False:
            return "421 4.3.0 Not accepted"
        message = HEADERS.parsebytes(envelope.content)  # headers only: the sink stays cheap
        with self.lock:
            self.received.append(
                Received(
                    message_id=str(message["Message-ID"]),
                    key=str(message["X-Relay-Notification"]),
                    to=to,
                    raw=envelope.content,
                )
            )
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def by_key(self) -> Counter:
        with self.lock:
            return Counter(r.key for r in self.received)


@contextmanager
def smtp_sink(**handler_options):
    handler = SinkHandler(**handler_options)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


class Worker:
    """A `celery worker` process for the given database, broker and SMTP port. `bare` (the
    default) starts it without gossip, mingle and heartbeat, which is faster; `bare=False` runs
    it as `make worker` and the systemd unit do. `loglevel="INFO"` logs its reconnections."""

    def __init__(
        self,
        *,
        database_url,
        broker_url,
        smtp_port,
        concurrency=2,
        pool="prefork",
        extra_env=None,
        loglevel="WARNING",
        bare=True,
    ):
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 — kept open for the process
            prefix="relay-worker-", suffix=".log", delete=False
        )
        env = (
            os.environ
            | {
                "DATABASE_URL": database_url,
                "CELERY_BROKER_URL": broker_url,
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(smtp_port),
                "EMAIL_TIMEOUT": "1",
                "NOTIFICATIONS_RETRY_BACKOFF": "0.2",
                "NOTIFICATIONS_MAX_ATTEMPTS": "3",
                "NOTIFICATIONS_CLAIM_LEASE": "2",
                "LOG_LEVEL": "WARNING",
                "DEBUG": "0",  # as in production: no per-query debug bookkeeping
                "SECRET_KEY": "relay-notification-tests-" + "x" * 40,
                "PYTHONUNBUFFERED": "1",
            }
            | (extra_env or {})
        )
        env.pop("RELAY_REQUIRE_SERVICES", None)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workflow_site",
                "worker",
                f"--pool={pool}",
                f"--concurrency={concurrency}",
                *(("--without-gossip", "--without-mingle", "--without-heartbeat") if bare else ()),
                f"--loglevel={loglevel}",
                f"--hostname=relay-test-{os.getpid()}-{id(self)}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: pool children die with it
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL the worker and its pool children (its process group, named by its pid)."""
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the worker and its pool processes."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.process.pid:  # field 5 of stat: the process group
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / tick

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def close(self) -> None:
        self.kill()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def wait_for(condition, *, timeout: float, interval: float = 0.05, message: str = "") -> None:
    """Poll until condition() is true; fail with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message or "condition not met in time")
        time.sleep(interval)


@contextmanager
def publishing_to(url: str):
    """Make this process's Celery app publish to `url` instead of running tasks eagerly."""
    from kombu import pools

    from workflow_site.celery import app

    saved = (app.conf.broker_url, app.conf.task_always_eager)

    def reset():
        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.update(broker_url=url, task_always_eager=False)
    reset()
    try:
        yield app
    finally:
        app.conf.update(broker_url=saved[0], task_always_eager=saved[1])
        reset()
