"""Server time of the Workflow admin's pages for a lead: the ML template's change page (its
draft, editable, and the version with runs, read only), the live diagram's preview of the
unsaved form (and with a dry run) and the changelist.

    .venv/bin/python bench/admin_pages.py [--n 30]

Seeds the demo into a throwaway database (bench/throwaway.py), logs in as ada, and prints
p50 and p90 of N requests in-process (Django's test client, DEBUG off) and the SQL queries of
one request, plus os.cpu_count(). Timings are noisy on a shared machine: compare runs made
one after the other.
"""

import argparse
import os
import statistics
import sys
import time
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.throwaway import drop_throwaway_database, use_throwaway_database  # noqa: E402

use_throwaway_database(os.environ.get("RELAY_BENCH_DATABASE", "relay_bench_admin_pages"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workflow_site.settings")
os.environ["DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "relay-bench-admin-pages-" + "x" * 40)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    setup_test_environment,
    teardown_test_environment,
)
from django.urls import reverse  # noqa: E402

from apps.workflows import editing  # noqa: E402
from apps.workflows.models import WorkflowTemplate  # noqa: E402
from tests.workflows.editor_forms import change_form_data  # noqa: E402


def measure(client: Client, url: str, n: int, data=None) -> tuple[float, float, int, int]:
    def request():
        if data is None:
            return client.get(url, secure=True)
        return client.post(url, data, secure=True)

    request()  # warm: templates compiled, caches filled
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = request()
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as captured:
        size = len(request().content)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))], len(captured), size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    args = parser.parse_args()
    settings.ALLOWED_HOSTS = ["testserver"]
    # Production's manifest storage needs collectstatic; the page costs the same without it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=StringIO())
    with_runs = WorkflowTemplate.objects.get(slug="ml-deployment", is_current=True)
    client = Client()
    assert client.login(username="ada", password="relay-demo")
    ada = with_runs.team.memberships.get(user__username="ada").user
    editable = editing.make_draft(template=with_runs, by=ada)
    with_runs.refresh_from_db()

    def change(template):
        return reverse("team_admin:workflows_workflowtemplate_change", args=[template.pk])

    preview = reverse("team_admin:workflows_workflowtemplate_preview", args=[editable.pk])
    setup_test_environment()  # the response's context, to read the form back from
    form = change_form_data(client.get(change(editable), secure=True))
    teardown_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    pages = [
        (
            f"change page, ML template draft v{editable.version} (editable)",
            change(editable),
            None,
        ),
        ("preview of the unsaved form (live diagram)", preview, form),
        ("preview with a dry run", preview, {**form, "dry-run": "1"}),
        (
            f"change page, ML template v{with_runs.version} (runs, read only)",
            change(with_runs),
            None,
        ),
        ("changelist", reverse("team_admin:workflows_workflowtemplate_changelist"), None),
    ]
    print(f"cpu_count: {os.cpu_count()}; database: {connection.vendor}; n = {args.n}")
    print(f"{'page':<52} {'p50 ms':>8} {'p90 ms':>8} {'queries':>8} {'KB':>6}")
    for name, url, data in pages:
        p50, p90, queries, size = measure(client, url, args.n, data)
        print(f"{name:<52} {1000 * p50:8.1f} {1000 * p90:8.1f} {queries:8d} {size / 1024:6.0f}")
    drop_throwaway_database(os.environ.get("RELAY_BENCH_DATABASE", "relay_bench_admin_pages"))


if __name__ == "__main__":
    main()
