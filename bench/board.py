"""Board speed with 5,000 open tasks and 50 people: server time, SQL queries, moves, polls, and
the browser's time-to-interactive and drag round trip. Prints figures; asserts nothing.

    .venv/bin/python bench/board.py                      # a throwaway SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/relay .venv/bin/python bench/board.py
    .venv/bin/python bench/board.py --no-browser         # the server's figures only

With PostgreSQL it runs on its own database `relay_bench_boards` on that server
(bench/throwaway.py).
"""

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workflow_site.settings")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API + the ORM
TMP = tempfile.mkdtemp(prefix="relay-bench-boards-")
from bench.throwaway import use_throwaway_database  # noqa: E402

use_throwaway_database(os.environ.get("RELAY_BENCH_DB", "relay_bench_boards"))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

OPEN_TASKS = 5_000
PEOPLE = 50
PASSWORD = "bench-pass-1"
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")


def reset_database():
    call_command("migrate", verbosity=0, interactive=False)


def seed():
    from apps.people.models import Membership, Role, Skill, Team, User
    from apps.tasks.models import ChecklistItem, Comment, State, Task

    skills = [Skill.objects.create(slug=f"skill-{i}", name=f"Skill {i}") for i in range(6)]
    big = Team.objects.create(name="Big team", slug="big")
    small = Team.objects.create(name="Small team", slug="small")
    people = User.objects.bulk_create(
        User(username=f"person{i}", first_name=f"P{i}", last_name="Bench", capacity=50)
        for i in range(PEOPLE)
    )
    lead = people[0]
    lead.set_password(PASSWORD)
    lead.save(update_fields=["password"])
    Membership.objects.bulk_create(
        [Membership(team=big, user=p, role=Role.LEAD if p == lead else Role.MEMBER) for p in people]
        + [Membership(team=small, user=lead, role=Role.LEAD)]
    )
    now = timezone.now()
    states = [State.TODO] * 2 + [State.ASSIGNED, State.IN_PROGRESS, State.IN_REVIEW]
    tasks = [
        Task(
            team=big,
            title=f"Bench task {i}",
            state=states[i % len(states)],
            assignee=None if states[i % len(states)] == State.TODO else people[i % PEOPLE],
            required_skill=skills[i % len(skills)],
            due_at=now + timezone.timedelta(days=(i % 20) - 5),
            position=i,
            iteration=1 + (i % 7 == 0),
        )
        for i in range(OPEN_TASKS)
    ]
    tasks += [
        Task(team=big, title=f"Done {i}", state=State.DONE, finished_at=now, position=i)
        for i in range(500)
    ]
    tasks = Task.objects.bulk_create(tasks)
    ChecklistItem.objects.bulk_create(
        ChecklistItem(task=t, text=f"step {n}", done=n == 0, position=n)
        for t in tasks[::3]
        for n in range(3)
    )
    Comment.objects.bulk_create(Comment(task=t, author=lead, body="bench") for t in tasks[::4])
    Task.objects.bulk_create(Task(team=small, title=f"Small {i}") for i in range(10))
    return lead, big, small


def timed(call, runs, cpu=None):
    """Wall-clock samples (ms); with `cpu` (a list), also this process's CPU time per call —
    on a shared machine the wall clock includes waiting for a core, CPU time does not (on
    SQLite the database works inside this process, so it is counted too)."""
    samples = []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        call()
        samples.append((time.perf_counter() - started) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - started_cpu) * 1000)
    return samples


def p(samples, q):
    return statistics.quantiles(samples, n=100)[q - 1] if len(samples) > 1 else samples[0]


def count_queries(call):
    with CaptureQueriesContext(connection) as captured:
        response = call()
    data = [q for q in captured.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)]
    return response, len(captured.captured_queries), len(data)


def server_figures(lead, big, small):
    from apps.tasks.models import State, Task

    client = Client()
    client.force_login(lead)
    board = reverse("boards:board", args=[big.slug])
    client.get(board)  # warm up
    cpu = []
    samples = timed(lambda: client.get(board), 25, cpu)
    print(
        f"board GET, {OPEN_TASKS} open tasks: p50 {p(samples, 50):.1f} ms, "
        f"p95 {p(samples, 95):.1f} ms wall; CPU p50 {p(cpu, 50):.1f} ms (target p50 ≤ 60 ms)"
    )
    for team, label in ((small, "10 cards"), (big, f"{OPEN_TASKS} cards")):
        _, total, _ = count_queries(
            lambda t=team: client.get(reverse("boards:board", args=[t.slug]))
        )
        print(f"board queries, {label}: {total}")
    lanes = board + "?lane=assignee"
    cpu = []
    samples = timed(lambda: client.get(lanes), 10, cpu)
    _, total, _ = count_queries(lambda: client.get(lanes))
    print(
        f"board GET with swimlanes by assignee ({PEOPLE} lanes): p50 {p(samples, 50):.1f} ms "
        f"wall, CPU {p(cpu, 50):.1f} ms, {total} queries"
    )
    filtered = board + "?skill=skill-1&due=soon&q=task"
    samples = timed(lambda: client.get(filtered), 10)
    print(f"board GET filtered (skill, due soon, text): p50 {p(samples, 50):.1f} ms")

    assigned = list(Task.objects.filter(team=big, state=State.ASSIGNED).order_by("position")[:40])
    headers = {"HX-Request": "true", "HX-Current-URL": "http://testserver" + board}
    move_samples, move_cpu, move_queries = [], [], []
    for task in assigned:
        url = reverse("boards:move", args=[task.pk])
        data = {"from_state": "assigned", "to": "in_progress", "order": str(task.pk)}
        started, started_cpu = time.perf_counter(), time.process_time()
        response, total, data_only = count_queries(
            lambda u=url, d=data: client.post(u, d, headers=headers)
        )
        move_samples.append((time.perf_counter() - started) * 1000)
        move_cpu.append((time.process_time() - started_cpu) * 1000)
        move_queries.append((total, data_only))
        assert response.status_code == 200, response.content[:300]
    # The median move: the first one in a process also looks up a content type (cached after).
    data_queries = int(statistics.median(d for _, d in move_queries))
    statements = int(statistics.median(t for t, _ in move_queries))
    print(
        f"move (drop Assigned → In progress + partial response): p50 {p(move_samples, 50):.1f} "
        f"ms, p95 {p(move_samples, 95):.1f} ms wall; CPU p50 {p(move_cpu, 50):.1f} ms, "
        f"p95 {p(move_cpu, 95):.1f} ms (target p95 ≤ 30 ms); {data_queries} queries by a lead "
        f"({statements} statements with transaction control)"
    )

    poll = reverse("boards:poll", args=[big.slug])
    etag = client.get(poll)["ETag"]
    samples = timed(lambda: client.get(poll, headers={"If-None-Match": etag}), 25)
    response, total, _ = count_queries(lambda: client.get(poll, headers={"If-None-Match": etag}))
    print(
        f"unchanged poll: HTTP {response.status_code}, {total} queries "
        f"(session + user + 1 board version), p50 {p(samples, 50):.1f} ms"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(port: int) -> subprocess.Popen:
    """gunicorn in its own process, as in production (a server thread in this process would
    share the interpreter lock with Playwright's driver and measure that instead)."""
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "workflow_site.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": os.environ["DATABASE_URL"]},
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("gunicorn did not start")


def browser_figures(lead, big):
    chromium = "/usr/bin/chromium"
    if not Path(chromium).exists():
        print("chromium: not installed, browser figures skipped")
        return
    port = _free_port()
    server = _serve(port)
    base = f"http://127.0.0.1:{port}"
    try:
        _browser_figures(base, lead, big, chromium)
    finally:
        server.terminate()
        server.wait(10)


def _browser_figures(base, lead, big, chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(base + "/login/")
        page.fill("#id_username", lead.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        board = base + reverse("boards:board", args=[big.slug])
        ready = []
        for _ in range(5):
            page.goto(board, wait_until="load")
            page.wait_for_function("() => window.relayBoardReady !== undefined")
            ready.append(page.evaluate("window.relayBoardReady"))
        print(
            f"chromium: {OPEN_TASKS}-task board interactive (cards draggable) after "
            f"median {statistics.median(ready):.0f} ms from navigation start "
            f"(runs: {', '.join(f'{r:.0f}' for r in ready)}; target ≤ 1000 ms)"
        )
        trips, waits = [], []
        for _ in range(5):
            card = page.locator("#cell-0-assigned .card-item").first
            page.evaluate("window.relayLastMoveMs = undefined")
            card.drag_to(page.locator("#cell-0-in_progress"), target_position={"x": 40, "y": 20})
            page.wait_for_function("() => window.relayLastMoveMs !== undefined")
            trips.append(page.evaluate("window.relayLastMoveMs"))
            waits.append(
                page.evaluate(
                    "(() => { const e = performance.getEntriesByType('resource')"
                    ".filter(r => r.name.includes('/move/')).pop();"
                    " return e.responseStart - e.requestStart; })()"
                )
            )
        print(
            f"chromium: drag round trip (drop → server → columns swapped) median "
            f"{statistics.median(trips):.0f} ms, max {max(trips):.0f} ms "
            f"(runs: {', '.join(f'{t:.0f}' for t in trips)}; target ≤ 150 ms); of which waiting "
            f"for the server median {statistics.median(waits):.0f} ms"
        )
        browser.close()


def main():
    settings.DEBUG = False
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"Relay board bench — cpu_count={os.cpu_count()}, load average {load:.1f}, "
        f"database={connection.vendor}"
    )
    reset_database()
    started = time.perf_counter()
    lead, big, small = seed()
    print(
        f"seeded {OPEN_TASKS} open tasks (+500 done), {PEOPLE} people "
        f"in {time.perf_counter() - started:.1f} s"
    )
    server_figures(lead, big, small)
    if "--no-browser" not in sys.argv:
        browser_figures(lead, big)


if __name__ == "__main__":
    main()
