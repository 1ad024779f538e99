"""What webhooks cost: a transition with and without hooks, and deliveries per second to a
local receiver. Prints figures; asserts nothing.

    .venv/bin/python bench/hooks.py [--transitions 200] [--deliveries 500]

A throw-away SQLite file, or with DATABASE_URL set to PostgreSQL its own database
`relay_bench_hooks` on that server. Sending is timed apart from writing: while transitions are
timed the Celery message is not sent (as with a broker, whose worker sends later); then
`sending.deliver` sends the written deliveries in batches of 100 to an http.server in a thread.
"""

import argparse
import os
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.throwaway import use_throwaway_database

VENDOR = use_throwaway_database("relay_bench_hooks")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workflow_site.settings")
os.environ["RELAY_WEBHOOKS_ALLOW_PRIVATE"] = "1"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from apps.hooks import sending, services  # noqa: E402
from apps.hooks.models import Delivery, Event, Status, Webhook  # noqa: E402
from apps.people.models import Membership, Role, Team, User  # noqa: E402
from apps.tasks import events as task_events  # noqa: E402
from apps.tasks import services as task_services  # noqa: E402


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def transitions(tasks, lead) -> tuple[float, float]:
    """Median ms and mean queries per transition (hold, then resume) over `tasks`."""
    times, queries = [], []
    for task in tasks:
        for verb in (task_services.hold, task_services.resume):
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                task = verb(task=task, by=lead)
                times.append((time.perf_counter() - start) * 1000)
            queries.append(len(captured))
    return statistics.median(times), statistics.mean(queries)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--transitions", type=int, default=200)
    parser.add_argument("--deliveries", type=int, default=500)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    team = Team.objects.create(name="Bench", slug="bench")
    lead = User.objects.create(username="lead", capacity=1000)
    Membership.objects.create(team=team, user=lead, role=Role.LEAD)
    tasks = [
        task_services.create_task(team=team, title=f"t{i}", by=lead)
        for i in range(args.transitions // 2)
    ]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    services.enqueue_sending = lambda **kwargs: True  # the broker's worker sends; not timed here

    print(f"bench/hooks.py · {VENDOR} · {os.cpu_count()} cores · {len(tasks) * 2} transitions")
    emit = task_events.transitioned
    task_events.transitioned = lambda **kwargs: None
    ms, queries = transitions(tasks, lead)
    print(
        f"  no webhook code (before): {ms:6.2f} ms per transition (median), {queries:.1f} queries"
    )
    task_events.transitioned = emit
    for hooks in (0, 1, 3):
        while Webhook.objects.count() < hooks:
            Webhook.objects.create(
                team=team, url=url, events=[Event.TASK_TRANSITIONED, Event.RUN_STARTED]
            )
        ms, queries = transitions(tasks, lead)
        print(
            f"  {hooks} hook(s):                {ms:6.2f} ms per transition (median), "
            f"{queries:.1f} queries"
        )

    # Sending: one active hook, `--deliveries` deliveries written in one go.
    Delivery.objects.all().delete()
    first = Webhook.objects.order_by("pk").first()
    Webhook.objects.exclude(pk=first.pk).update(is_active=False)
    services.emit_events(
        team=team,
        event=Event.RUN_STARTED,
        payloads=lambda: [{"n": i} for i in range(args.deliveries)],
    )
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    start = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        for i in range(0, len(ids), 100):
            sending.deliver(ids=ids[i : i + 100])
    elapsed = time.perf_counter() - start
    sent = Delivery.objects.filter(status=Status.SENT).count()
    print(
        f"  sending: {sent}/{len(ids)} delivered in {elapsed:.2f} s = {sent / elapsed:.0f}/s, "
        f"{len(captured) / max(sent, 1):.1f} queries per delivery (one process, local receiver)"
    )
    server.shutdown()


if __name__ == "__main__":
    main()
