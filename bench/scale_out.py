"""Scale-out, tried: two web servers and two Celery workers on one PostgreSQL and one Redis.

Starts, on a throwaway PostgreSQL database and the Redis that REDIS_URL names (broker and
cache), two gunicorn servers (2 workers each, production settings) on two ports, two Celery
workers and an SMTP sink. The member logs in on server 1 and drags her card from In progress
to In review; the lead, whose board is open on server 2, polls it as the browser does (every
5 s, with the ETag of the board he has). The check passes when server 2's next poll shows the
card in review, within one poll interval, and the review request reaches the lead by e-mail
exactly once, sent by one of the two workers. Prints what it saw; exits 1 if any of it fails.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/relay REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/scale_out.py

The database is `<name>_scale_out` on that server (bench/throwaway.py), dropped at the end.
"""

import http.client
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
POLL_SECONDS = 5  # the board's poll interval (POLL_MS in static/js/boards.js)
PASSWORD = "scale-out-pass-1"

if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    sys.exit("bench/scale_out.py needs DATABASE_URL on PostgreSQL (several processes share it).")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.update(
    {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),  # shared by every process, as it must be
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "ERROR",
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "workflow_site.settings",
    }
)
from bench.throwaway import drop_throwaway_database, use_throwaway_database  # noqa: E402

_named = urlparse(os.environ["DATABASE_URL"]).path.strip("/")
THROWAWAY = f"{_named or 'relay'}_scale_out"
use_throwaway_database(THROWAWAY)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.urls import reverse  # noqa: E402

from tests.services.notification_harness import Worker, flush_redis, smtp_sink  # noqa: E402


def seed():
    """A team with a lead (who reviews) and a member whose task is in progress."""
    from apps.people.models import Membership, Role, Team, User
    from apps.tasks import services

    team = Team.objects.create(name="Scale-out", slug="scale-out")
    lead = User.objects.create_user("lee", "lee@example.com", PASSWORD, first_name="Lee")
    member = User.objects.create_user("mo", "mo@example.com", PASSWORD, first_name="Mo")
    Membership.objects.create(team=team, user=lead, role=Role.LEAD)
    Membership.objects.create(team=team, user=member, role=Role.MEMBER)
    task = services.create_task(team=team, title="Ship the release", by=lead, requires_review=True)
    services.assign_to(task=task, assignee=member, by=lead)
    services.start(task=task, by=member)
    return team, lead, member, task


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "workflow_site.wsgi",
            *("--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"),
        ],
        cwd=ROOT,
        env=os.environ.copy(),
    )
    for _ in range(200):
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn on {port} exited with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


class Browser:
    """One person's browser on one server: cookies, the CSRF token, htmx's headers."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} | (
            headers or {}
        )
        if body is not None:
            body = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        content = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        conn.close()
        return response, content

    def login(self, username: str) -> None:
        _, page = self.request("GET", reverse("login"))
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = {"csrfmiddlewaretoken": token.decode(), "username": username, "password": PASSWORD}
        response, _ = self.request("POST", reverse("login"), form)
        if response.status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(
                f"{username} could not log in on :{self.port} (HTTP {response.status})"
            )


def main() -> int:
    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    flush_redis(REDIS_URL)
    team, lead, _member, task = seed()
    board = reverse("boards:board", args=[team.slug])
    poll = reverse("boards:poll", args=[team.slug])
    checks: list[tuple[str, bool]] = []
    processes: list = []
    with smtp_sink() as (sink, smtp_port):
        try:
            ports = [free_port(), free_port()]
            processes += [gunicorn(port) for port in ports]
            workers = [
                Worker(
                    database_url=os.environ["DATABASE_URL"],
                    broker_url=REDIS_URL,
                    smtp_port=smtp_port,
                    extra_env={"SECRET_KEY": os.environ["SECRET_KEY"]},
                    bare=False,
                )
                for _ in range(2)
            ]
            processes += workers
            print(f"web servers on :{ports[0]} and :{ports[1]}, 2 Celery workers, one database")
            mo, lee = Browser(ports[0]), Browser(ports[1])
            mo.login("mo")
            lee.login("lee")
            response, _ = lee.request("GET", board)
            etag = response.getheader("ETag") or lee.request("GET", poll)[0].getheader("ETag")
            unchanged, _ = lee.request("GET", poll, headers={"If-None-Match": etag})
            checks.append(
                ("server 2: the lead's poll is 304 before the move", unchanged.status == 304)
            )

            mo.request("GET", board)
            started = time.monotonic()
            moved, _ = mo.request(
                "POST",
                reverse("boards:move", args=[task.pk]),
                {"from_state": "in_progress", "to": "in_review"},
                headers={"HX-Request": "true", "HX-Current-URL": f"http://127.0.0.1{board}"},
            )
            checks.append(
                (f"server 1: the member's move answers {moved.status}", moved.status == 200)
            )

            # The browser polls every POLL_SECONDS; the move must show on the next one.
            time.sleep(min(POLL_SECONDS, 1))
            seen, body = lee.request(
                "GET", poll, headers={"If-None-Match": etag, "HX-Request": "true"}
            )
            shown = seen.status == 200 and re.search(
                rb'id="card-%d"[^>]*data-state="in_review"' % task.pk, body
            )
            waited = time.monotonic() - started
            checks.append(
                (
                    f"server 2: the next poll ({waited:.1f} s after the move) shows the card in "
                    f"review (HTTP {seen.status})",
                    bool(shown) and waited <= POLL_SECONDS,
                )
            )

            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not [
                m for m in sink.received if m.to == lead.email
            ]:
                time.sleep(0.2)
            arrived = time.monotonic() - started
            time.sleep(3)  # a duplicate would arrive by now (both workers are idle)
            to_lead = [m for m in sink.received if m.to == lead.email]
            checks.append(
                (
                    f"the review request reached the lead by e-mail {len(to_lead)} time(s), "
                    f"{arrived:.1f} s after the move",
                    len(to_lead) == 1,
                )
            )
        finally:
            for process in processes:
                if isinstance(process, Worker):
                    process.kill()
                else:
                    process.terminate()
                    process.wait(timeout=10)
            drop_throwaway_database(THROWAWAY)
    for label, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {label}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
