"""The API next to the pages, as a deployment serves them: gunicorn (2 sync workers, DEBUG=0),
`wrk -t2 -c8`. A team of 10,000 tasks; the API's task list (a page of 100, bearer token)
against the team task list page (its page of 50 rows, session cookie); then one transition
at a time, through the API (POST …/transitions, "start") against the board's card move (the
same transition from the page). Prints req/s, p50, p99, bytes and SQL queries per request;
asserts nothing.

    .venv/bin/python bench/api.py                      # a throwaway SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/relay .venv/bin/python bench/api.py
    BENCH_SECONDS=4 BENCH_PORT=18100 .venv/bin/python bench/api.py

It reuses bench/serve.py's machinery (production settings, its throwaway database
`<name>_bench_serve`, gunicorn, wrk and the logged-in browser); the rate limit is lifted for
the run, since wrk is one caller asking as fast as it can.
"""

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["RELAY_API_RATE_LIMIT"] = str(10**9)

from bench import serve  # noqa: E402  (sets production settings and the throwaway database)

TASKS = 10_000
PEOPLE = 10


def seed():
    from apps.api.services import create_personal_token
    from apps.people.models import Membership, Role, Team, User
    from apps.tasks.models import State, Task

    team = Team.objects.create(name="API team", slug="api-team")
    people = User.objects.bulk_create(
        User(username=f"api{i}", first_name=f"A{i}", last_name="Bench", capacity=100)
        for i in range(PEOPLE)
    )
    lead = people[0]
    lead.set_password(serve.PASSWORD)
    lead.save(update_fields=["password"])
    Membership.objects.bulk_create(
        Membership(team=team, user=p, role=Role.LEAD if p == lead else Role.MEMBER) for p in people
    )
    columns = [State.TODO, State.ASSIGNED, State.IN_PROGRESS, State.IN_REVIEW, State.DONE]
    Task.objects.bulk_create(
        (
            Task(
                team=team,
                title=f"API task {i}",
                state=columns[i % len(columns)],
                assignee=None if i % len(columns) == 0 else people[i % PEOPLE],
                position=i,
                priority=1 + i % 3,
            )
            for i in range(TASKS)
        ),
        batch_size=2000,
    )
    _token, secret = create_personal_token(user=lead, name="bench", scope="write")
    assigned = list(
        Task.objects.filter(team=team, state=State.ASSIGNED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return lead, team, secret, assigned


def one_at_a_time(browser, requests) -> tuple[list[float], int]:
    samples, size = [], 0
    for method, path, body, headers, ok in requests:
        started = time.perf_counter()
        response, content = browser.request(method, path, body, headers)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status != ok:
            raise RuntimeError(f"{path}: HTTP {response.status}: {content[:200]!r}")
        size = len(content)
    return samples, size


class JsonBrowser(serve.Browser):
    """The bench's keep-alive client, sending JSON bodies with a bearer token."""

    def __init__(self, port: int, secret: str):
        super().__init__(port)
        self.auth = {"Authorization": f"Bearer {secret}"}

    def request(self, method, path, body=None, headers=None):
        headers = {**self.auth, **(headers or {})}
        if body is None:
            return super().request(method, path, None, headers)
        self.conn.request(
            method,
            path,
            body=json.dumps(body),
            headers={**headers, "Content-Type": "application/json"},
        )
        response = self.conn.getresponse()
        return response, response.read()


def main():
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    print(
        f"Relay API bench — cpu_count={os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, "
        f"database={serve.VENDOR}, wrk -t2 -c8 -d{serve.SECONDS}s, gunicorn 2 sync workers, "
        "DEBUG=0"
    )
    call_command("migrate", verbosity=0, interactive=False)
    started = time.perf_counter()
    lead, team, secret, assigned = seed()
    print(f"seeded {TASKS:,} tasks, {PEOPLE} people in {time.perf_counter() - started:.1f} s")
    call_command("collectstatic", verbosity=0, interactive=False)
    port = serve.free_port(int(os.environ.get("BENCH_PORT", "0")) or None)
    server = serve.gunicorn("workflow_site.wsgi", port, ROOT)
    try:
        run(lead, team, secret, assigned, port, reverse, Client)
    finally:
        server.terminate()
        server.wait(10)
        serve.drop_throwaway_database(serve.THROWAWAY)


def run(lead, team, secret, assigned, port, reverse, Client):
    browser = serve.Browser(port)
    browser.login(lead.username)
    api = JsonBrowser(port, secret)
    client = Client(SERVER_NAME="127.0.0.1")
    client.login(username=lead.username, password=serve.PASSWORD)
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    api_list = f"/api/v1/teams/{team.slug}/tasks?limit=100"
    page_list = reverse("boards:task_list", args=[team.slug])
    rows = []
    for name, path, headers, count_kwargs in (
        ("API task list (100 rows)", api_list, api.auth, bearer),
        ("task list page (50 rows)", page_list, {"Cookie": browser.cookie_header()}, {}),
    ):
        count = serve.queries(client, "get", path, **count_kwargs)
        figures = serve.wrk(f"http://127.0.0.1:{port}{path}", headers)
        size = len(client.get(path, **count_kwargs).content)
        rows.append((name, figures, size, count))

    # One transition at a time (assigned → in progress), 120 each way, on keep-alive sockets.
    api_tasks, page_tasks = assigned[1:121], assigned[121:241]
    api_queries = serve.queries(
        client,
        "post",
        f"/api/v1/tasks/{assigned[0]}/transitions",
        data=json.dumps({"action": "start"}),
        content_type="application/json",
        **bearer,
    )
    htmx = {"HX-Request": "true", "HX-Current-URL": f"http://127.0.0.1:{port}/"}
    page_queries = serve.queries(
        client,
        "post",
        reverse("boards:move", args=[assigned[241]]),
        data={"from_state": "assigned", "to": "in_progress", "order": str(assigned[241])},
        **{f"HTTP_{k.replace('-', '_').upper()}": v for k, v in htmx.items()},
    )
    api_samples, api_bytes = one_at_a_time(
        api,
        [
            ("POST", f"/api/v1/tasks/{pk}/transitions", {"action": "start"}, {}, 200)
            for pk in api_tasks
        ],
    )
    page_samples, page_bytes = one_at_a_time(
        browser,
        [
            (
                "POST",
                reverse("boards:move", args=[pk]),
                {"from_state": "assigned", "to": "in_progress", "order": str(pk)},
                htmx,
                200,
            )
            for pk in page_tasks
        ],
    )
    print()
    print(
        f"| request ({serve.VENDOR}, {TASKS:,} tasks) | req/s | p50 ms | p99 ms | bytes | queries |"
    )
    print("|---|---|---|---|---|---|")
    for name, figures, size, count in rows:
        warn = f" ({figures['errors']} bad answers)" if figures["errors"] else ""
        print(
            f"| {name}{warn} | {figures['rps']:.1f} | {figures['p50']:.1f} "
            f"| {figures['p99']:.1f} | {size:,} | {count} |"
        )
    for name, samples, size, count in (
        ("API transition, one at a time", api_samples, api_bytes, api_queries),
        ("board card move, one at a time", page_samples, page_bytes, page_queries),
    ):
        print(
            f"| {name} ({len(samples)}) | {1000 / statistics.mean(samples):.1f} "
            f"| {statistics.median(samples):.1f} | {serve.percentile(samples, 99):.1f} "
            f"| {size:,} | {count} |"
        )


if __name__ == "__main__":
    main()
