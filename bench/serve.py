"""Every page as a deployment serves it: gunicorn (2 sync workers, DEBUG=0), a logged-in person,
`wrk -t2 -c8`, next to the floor (../shared/floor) at the same card count in the same run.
Prints a table (req/s, p50, p99, bytes, SQL queries per request, ratio to the floor) and the
workers' RSS after the load; asserts nothing.

    .venv/bin/python bench/serve.py                      # a throwaway SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/relay .venv/bin/python bench/serve.py
    BENCH_SECONDS=4 BENCH_PORT=18100 .venv/bin/python bench/serve.py   # shorter, fixed ports

With PostgreSQL it runs on its own database `<name>_bench_serve` on that server
(bench/throwaway.py). The data: one team of 20 people (a lead, 4 reviewers, 15 members) and
1,000 tasks, 200 in each board column, seeded with bulk inserts. The person logged in is the
lead. `make bench-serve` runs it (and installs Debian's wrk when it is missing).
"""

import http.client
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parent.parent
FLOOR = Path(os.environ.get("BENCH_FLOOR", "/work/shared/floor"))
sys.path.insert(0, str(ROOT))
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
PASSWORD = "bench-serve-pass-1"
PEOPLE = 20
PER_STATE = 200
# Production settings, the same in this process (query counts) and in gunicorn's workers.
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "0",
    "LOG_LEVEL": "ERROR",
}
os.environ.update(PRODUCTION)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workflow_site.settings")
from bench.throwaway import drop_throwaway_database, use_throwaway_database  # noqa: E402

# Named after the database DATABASE_URL names, so that two people sharing a server do not
# drop each other's bench database.
_named = urlparse(os.environ.get("DATABASE_URL", "")).path.strip("/")
THROWAWAY = f"{_named or 'relay'}_bench_serve"
VENDOR = use_throwaway_database(THROWAWAY)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")


def seed():
    """20 people, 1,000 tasks: 200 per column (To do … Done), checklists and comments on some."""
    from apps.people.models import Membership, Role, Skill, Team, User
    from apps.tasks.models import ChecklistItem, Comment, State, Task

    skills = Skill.objects.bulk_create(
        Skill(slug=f"skill-{i}", name=f"Skill {i}") for i in range(5)
    )
    team = Team.objects.create(name="Serve team", slug="serve")
    people = User.objects.bulk_create(
        User(username=f"person{i}", first_name=f"P{i}", last_name="Bench", capacity=100)
        for i in range(PEOPLE)
    )
    lead = people[0]
    lead.set_password(PASSWORD)
    lead.save(update_fields=["password"])
    reviewers = people[:5]  # the lead and four reviewers
    Membership.objects.bulk_create(
        Membership(
            team=team,
            user=p,
            role=Role.LEAD if p == lead else Role.REVIEWER if p in reviewers else Role.MEMBER,
        )
        for p in people
    )
    now = timezone.now()
    columns = [State.TODO, State.ASSIGNED, State.IN_PROGRESS, State.IN_REVIEW, State.DONE]
    tasks = []
    for i in range(PER_STATE * len(columns)):
        state = columns[i % len(columns)]
        assignee = None if state == State.TODO else people[(i // len(columns)) % PEOPLE]
        reviewer = None
        if state == State.IN_REVIEW:
            reviewer = next(r for r in reviewers[(i // 5) % 5 :] + reviewers if r != assignee)
        tasks.append(
            Task(
                team=team,
                title=f"Serve task {i} <with> some & text",
                state=state,
                assignee=assignee,
                reviewer=reviewer,
                required_skill=skills[i % len(skills)],
                due_at=now + timezone.timedelta(days=(i % 20) - 5),
                position=i,
                priority=1 + i % 3,
                finished_at=now - timezone.timedelta(hours=i % 48) if state == State.DONE else None,
            )
        )
    tasks = Task.objects.bulk_create(tasks)
    ChecklistItem.objects.bulk_create(
        ChecklistItem(task=t, text=f"step {n}", done=n == 0, position=n)
        for t in tasks[::3]
        for n in range(3)
    )
    Comment.objects.bulk_create(
        Comment(task=t, author=people[n], body=f"bench comment {n}")
        for t in tasks[::4]
        for n in range(2)
    )
    return lead, team, tasks


# --- servers -----------------------------------------------------------------------------


def free_port(preferred: int | None) -> int:
    if preferred:
        return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, server: subprocess.Popen) -> None:
    for _ in range(200):
        if server.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def gunicorn(app: str, port: int, cwd: Path) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            app,
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=cwd,
        env=os.environ.copy(),
    )
    wait_for(port, server)
    return server


def worker_rss_mb(server: subprocess.Popen) -> list[float]:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    sizes = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


# --- HTTP ------------------------------------------------------------------------------


class Browser:
    """A keep-alive HTTP client with a cookie jar: logs in through the login form."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            body = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            if "csrftoken" in self.cookies:
                headers["X-CSRFToken"] = self.cookies["csrftoken"]
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        content = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        return response, content

    def login(self, username: str) -> None:
        _, page = self.request("GET", reverse("login"))
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        response, _ = self.request(
            "POST",
            reverse("login"),
            {"csrfmiddlewaretoken": token.decode(), "username": username, "password": PASSWORD},
        )
        if response.status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"login failed: HTTP {response.status}")

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())


def parse_duration_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def wrk(url: str, headers: dict[str, str] | None = None) -> dict:
    command = ["wrk", "-t2", "-c8", f"-d{SECONDS}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))  # "1.12s " over 1 s
    if "50" not in latency or "99" not in latency:
        raise RuntimeError(f"wrk gave no latency for {url}:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": parse_duration_ms(latency["50"]),
        "p99": parse_duration_ms(latency["99"]),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "errors": int(bad.group(1)) if bad else 0,
    }


def floor(port: int, cards: int, cache: dict) -> dict:
    if cards not in cache:
        cache[cards] = wrk(f"http://127.0.0.1:{port}/board/?cards={cards}")
    return cache[cards]


# --- in process: queries per request ---------------------------------------------------


def queries(client: Client, method: str, path: str, **kwargs) -> int:
    if method == "get":
        # The steady state wrk measures: the first request sets the CSRF cookie, the next
        # one tells the server who the session is, the third is kept (apps.boards.page_cache).
        for _ in range(3):
            client.get(path, **kwargs)
    with CaptureQueriesContext(connection) as captured:
        getattr(client, method)(path, **kwargs)
    return sum(1 for q in captured.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL))


def cards_in(body: bytes) -> int:
    """Distinct tasks a page shows: its cards (id="card-N") or rows (a link to /tasks/N/)."""
    return len(set(re.findall(rb'(?:href="/tasks/|id="card-)(\d+)[/"]', body)))


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1]


def main():
    # Stopped (kill, Ctrl-C): stop the servers and drop the database all the same.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    load = os.getloadavg()[0]
    print(
        f"Relay serving bench — cpu_count={os.cpu_count()}, load average {load:.1f}, "
        f"database={VENDOR}, wrk -t2 -c8 -d{SECONDS}s, gunicorn 2 sync workers, DEBUG=0"
    )
    call_command("migrate", verbosity=0, interactive=False)
    started = time.perf_counter()
    lead, team, tasks = seed()
    print(
        f"seeded 1,000 tasks (200 per column), {PEOPLE} people "
        f"in {time.perf_counter() - started:.1f} s"
    )
    call_command("collectstatic", verbosity=0, interactive=False)  # whitenoise's manifest

    base_port = int(os.environ.get("BENCH_PORT", "0")) or None
    port = free_port(base_port)
    floor_port = free_port(base_port + 1 if base_port else None)
    servers = [
        gunicorn("workflow_site.wsgi", port, ROOT),
        gunicorn("floor_app:application", floor_port, FLOOR),
    ]
    try:
        run(lead, team, tasks, port, floor_port, servers)
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
        drop_throwaway_database(THROWAWAY)


def run(lead, team, tasks, port, floor_port, servers):
    from apps.tasks.models import State

    browser = Browser(port)
    browser.login(lead.username)
    client = Client(SERVER_NAME="127.0.0.1")
    client.login(username=lead.username, password=PASSWORD)
    board = reverse("boards:board", args=[team.slug])
    poll = reverse("boards:poll", args=[team.slug])
    # A task with a checklist and comments, shown on the task page and in the drawer.
    shown = next(t for i, t in enumerate(tasks) if i % 12 == 0 and t.state == State.IN_PROGRESS)
    htmx = {"HX-Request": "true", "HX-Current-URL": f"http://127.0.0.1:{port}{board}"}
    pages = [
        ("board", board, {}, None),
        ("task page", reverse("tasks:task_detail", args=[shown.pk]), {}, 10),
        ("team task list", reverse("boards:task_list", args=[team.slug]), {}, None),
        ("My work", reverse("boards:my_work"), {}, None),
        ("review queue", reverse("boards:reviews"), {}, None),
        ("poll, unchanged (304)", poll, {"HX-Request": "true"}, 10),
        ("drawer", reverse("boards:drawer", args=[shown.pk]), {"HX-Request": "true"}, 10),
    ]
    response, _ = browser.request("GET", poll, headers={"HX-Request": "true"})
    pages[5][2]["If-None-Match"] = response.getheader("ETag")
    floors: dict[int, dict] = {}
    rows = []
    only = os.environ.get("BENCH_PAGES", "")  # e.g. BENCH_PAGES=poll: only pages named so
    for name, path, headers, floor_cards in pages:
        if only and not any(word in name for word in only.split(",")):
            continue
        response, body = browser.request("GET", path, headers=headers)
        expected = 304 if "If-None-Match" in headers else 200
        if response.status != expected:
            raise RuntimeError(f"{name}: HTTP {response.status}, expected {expected}")
        cards = floor_cards or max(cards_in(body), 1)
        http_headers = {k.replace("-", "_").upper(): v for k, v in headers.items()}
        count = queries(client, "get", path, **{f"HTTP_{k}": v for k, v in http_headers.items()})
        figures = wrk(
            f"http://127.0.0.1:{port}{path}", {**headers, "Cookie": browser.cookie_header()}
        )
        if expected == 304:
            again, _ = browser.request("GET", path, headers=headers)
            if again.status != 304:  # the five-minute ETag window turned during the run
                figures["errors"] = figures["requests"]
        ref = floor(floor_port, cards, floors)
        rows.append((name, figures, len(body), count, cards, ref))

    # A card move: Assigned → In progress, one POST after another on a keep-alive connection.
    assigned = [t for t in tasks if t.state == State.ASSIGNED]
    move_queries = queries(
        client,
        "post",
        reverse("boards:move", args=[assigned[0].pk]),
        data={"from_state": "assigned", "to": "in_progress", "order": str(assigned[0].pk)},
        **{f"HTTP_{k.replace('-', '_').upper()}": v for k, v in htmx.items()},
    )
    samples, move_bytes = [], 0
    for task in assigned[1:121]:
        started = time.perf_counter()
        response, body = browser.request(
            "POST",
            reverse("boards:move", args=[task.pk]),
            {"from_state": "assigned", "to": "in_progress", "order": str(task.pk)},
            headers=htmx,
        )
        samples.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise RuntimeError(f"move: HTTP {response.status}: {body[:200]!r}")
        move_bytes = len(body)
    rss, floor_rss = worker_rss_mb(servers[0]), worker_rss_mb(servers[1])

    print()
    print(
        f"| page ({VENDOR}) | req/s | p50 ms | p99 ms | bytes | queries "
        "| floor req/s (cards) | x floor |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, figures, size, count, cards, ref in rows:
        warn = f" ({figures['errors']} bad answers)" if figures["errors"] else ""
        print(
            f"| {name}{warn} | {figures['rps']:.1f} | {figures['p50']:.1f} | {figures['p99']:.1f} "
            f"| {size:,} | {count} | {ref['rps']:.1f} ({cards}) "
            f"| {figures['rps'] / ref['rps']:.2f} |"
        )
    print(
        f"| card move, one at a time ({len(samples)}) | {1000 / statistics.mean(samples):.1f} "
        f"| {statistics.median(samples):.1f} | {percentile(samples, 99):.1f} | {move_bytes:,} "
        f"| {move_queries} | — | p95 {percentile(samples, 95):.1f} ms |"
    )
    print()
    print(
        f"gunicorn workers' RSS after the load: {', '.join(f'{r:.0f}' for r in rss)} MB "
        f"(the floor's: {', '.join(f'{r:.0f}' for r in floor_rss)} MB)"
    )


if __name__ == "__main__":
    main()
