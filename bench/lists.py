"""The team task list, My work and Awaiting my review served the way a deployment serves them:
gunicorn (2 sync workers, DEBUG=0), a logged-in person, `wrk -t2 -c8`, next to the floor
(/work/shared/floor, a bare Django view rendering N cards from memory) at the same number of
cards, in the same run. Prints req/s, p50, p99, bytes and the ratio to the floor; also an empty
login_required page (the base template, nothing else), so each page's own share is its time
minus that one. Asserts nothing.

    .venv/bin/python bench/lists.py                        # a throwaway SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x .venv/bin/python bench/lists.py

Shape: a team of 20 people, 1,000 tasks (200 per state), the viewer a reviewer with 30 tasks
in My work and 15 awaiting their review. BENCH_PORT (default 18310) and BENCH_SECONDS (5).
"""

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.lists_settings"
os.environ.setdefault("SECRET_KEY", "bench-lists-" + "x" * 50)
os.environ["DEBUG"] = "0"
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
# Plain HTTP on loopback, as behind a proxy that ends TLS: no redirect to https.
os.environ["SECURE_SSL_REDIRECT"] = "0"
from bench.throwaway import drop_throwaway_database, use_throwaway_database  # noqa: E402

VENDOR = use_throwaway_database("relay_bench_lists")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

PORT = int(os.environ.get("BENCH_PORT", "18310"))
FLOOR_PORT = PORT + 1
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
FLOOR = Path(os.environ.get("RELAY_FLOOR", "/work/shared/floor"))
PEOPLE = 20
PER_STATE = 200
MY_WORK = 30
REVIEWS = 15


def seed():
    from apps.people.models import Membership, Role, Skill, Team, User
    from apps.tasks.models import ChecklistItem, Comment, State, Task

    skills = [Skill.objects.create(slug=f"skill-{i}", name=f"Skill {i}") for i in range(5)]
    team = Team.objects.create(name="Bench team", slug="bench")
    people = User.objects.bulk_create(
        User(username=f"person{i}", first_name=f"P{i}", last_name="Bench", capacity=100)
        for i in range(PEOPLE)
    )
    viewer, other = people[0], people[1]
    Membership.objects.bulk_create(
        Membership(team=team, user=p, role=Role.REVIEWER if p == viewer else Role.MEMBER)
        for p in people
    )
    now = timezone.now()
    states = [State.TODO, State.ASSIGNED, State.IN_PROGRESS, State.IN_REVIEW, State.DONE]
    tasks, mine, reviews = [], 0, 0
    for s, state in enumerate(states):
        for i in range(PER_STATE):
            assignee = None if state == State.TODO else people[1 + i % (PEOPLE - 1)]
            reviewer = None
            if state in (State.ASSIGNED, State.IN_PROGRESS, State.IN_REVIEW) and i < MY_WORK // 3:
                assignee = viewer
                mine += 1
            if state == State.IN_REVIEW and assignee != viewer:
                reviewer = viewer if reviews < REVIEWS else other
                reviews += reviewer == viewer
            tasks.append(
                Task(
                    team=team,
                    title=f"Bench task {s}-{i}: a title of a realistic length",
                    description="What to do, and why.",
                    state=state,
                    assignee=assignee,
                    reviewer=reviewer,
                    required_skill=skills[i % len(skills)],
                    due_at=now + timezone.timedelta(days=(i % 20) - 5),
                    position=i,
                    priority=i % 3,
                    finished_at=now if state == State.DONE else None,
                )
            )
    tasks = Task.objects.bulk_create(tasks)
    ChecklistItem.objects.bulk_create(
        ChecklistItem(task=t, text=f"item {n}", done=n == 0, position=n)
        for t in tasks[::3]
        for n in range(3)
    )
    Comment.objects.bulk_create(Comment(task=t, author=other, body="bench") for t in tasks[::4])
    return viewer, team


def session_cookie(user) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def wait_for(url: str, headers=None):
    for _ in range(100):
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=2) as response:
                return response.read()
        except urllib.error.HTTPError:
            raise
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answers at {url}")


def wrk(url: str, cookie: str | None = None) -> dict:
    command = ["wrk", "-t2", "-c8", f"-d{SECONDS}s", "--latency", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout

    def ms(label):
        match = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": ms("50"),
        "p99": ms("99"),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def main():
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    viewer, team = seed()
    cookie = session_cookie(viewer)
    from django.db import connections

    connections.close_all()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    python = str(ROOT / ".venv" / "bin" / "python")
    app = subprocess.Popen(
        [
            python,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{PORT}",
            "--chdir",
            str(ROOT),
            "--log-level",
            "warning",
            "workflow_site.wsgi:application",
        ],
        env=env,
    )
    floor = subprocess.Popen(
        [
            python,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{FLOOR_PORT}",
            "--chdir",
            str(FLOOR),
            "--log-level",
            "warning",
            "floor_app:application",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{PORT}"
    tasks = f"/teams/{team.slug}/tasks/"
    pages = [
        ("empty login_required page", "/bench-empty/", 0),
        ("team task list, page 1 (50 rows)", tasks, 50),
        ("team task list, in review, page 2", f"{tasks}?state=in_review&page=2", 50),
        ("team task list, filtered, sorted by due", f"{tasks}?skill=skill-1&sort=due", 50),
        (f"My work ({MY_WORK} cards)", "/my-work/", MY_WORK),
        (f"Awaiting my review ({REVIEWS} cards)", "/reviews/", REVIEWS),
    ]
    try:
        wait_for(f"http://127.0.0.1:{FLOOR_PORT}/board/?cards=10")
        for _, path, _ in pages:
            body = wait_for(base + path, {"Cookie": cookie})
            if b'name="username"' in body and b"password" in body:
                raise SystemExit(f"{path} answered with the login page: the cookie is not taken")
        floors = {}
        print(f"{os.cpu_count()} cores, {VENDOR}, gunicorn -w 2, wrk -t2 -c8 -d{SECONDS}s")
        heads = ("req/s", "p50 ms", "p99 ms", "KB", "floor", "ratio")
        print(f"{'page':46} " + " ".join(f"{h:>7}" for h in heads))
        empty_p50 = None
        for label, path, cards in pages:
            size = len(wait_for(base + path, {"Cookie": cookie})) / 1024
            result = wrk(base + path, cookie)
            if cards and cards not in floors:
                floors[cards] = wrk(f"http://127.0.0.1:{FLOOR_PORT}/board/?cards={cards}")
            floor_rps = floors[cards]["rps"] if cards else None
            ratio = f"{result['rps'] / floor_rps:.2f}x" if floor_rps else ""
            share = ""
            if empty_p50 is None:
                empty_p50 = result["p50"]
            else:
                share = f"  own share p50 {result['p50'] - empty_p50:+.1f} ms"
            errors = f"  NON-2xx {result['errors']}" if result["errors"] else ""
            print(
                f"{label:46} {result['rps']:7.1f} {result['p50']:7.1f} {result['p99']:7.1f} "
                f"{size:6.1f} {floor_rps or 0:7.1f} {ratio:>6}{share}{errors}"
            )
    finally:
        for process in (app, floor):
            process.terminate()
            process.wait()
        drop_throwaway_database("relay_bench_lists")


if __name__ == "__main__":
    main()
