"""How fast the run engine routes and the diagram renders. Prints figures; asserts nothing.

Uses a throw-away SQLite file, or with DATABASE_URL set to PostgreSQL its own database
`relay_bench_workflows` on that server: `python bench/workflows_engine.py`.
"""

import copy
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.throwaway import use_throwaway_database

use_throwaway_database("relay_bench_workflows")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workflow_site.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from apps.people.models import Membership, PersonSkill, Role, Skill, Team, User  # noqa: E402
from apps.tasks import services as task_services  # noqa: E402
from apps.tasks.models import Task  # noqa: E402
from apps.workflows import definitions, diagram, exchange, services  # noqa: E402

RUNS = 40


def setup():
    call_command("migrate", verbosity=0)
    team = Team.objects.create(name="Bench", slug="data-science")
    training = Skill.objects.create(slug="ml-training", name="ML training")
    review = Skill.objects.create(slug="ml-review", name="ML review", is_review_skill=True)
    people = []
    for i in range(6):
        user = User.objects.create(username=f"p{i}", capacity=1000)
        role = Role.LEAD if i == 0 else (Role.REVIEWER if i % 2 else Role.MEMBER)
        Membership.objects.create(team=team, user=user, role=role)
        PersonSkill.objects.create(user=user, skill=training, level=4)
        PersonSkill.objects.create(user=user, skill=review, level=4)
        people.append(user)
    template = exchange.import_template(copy.deepcopy(definitions.ML_DEPLOYMENT), team=team)
    return template, people[0]


def finish(run, key, outcome):
    task = Task.objects.get(run=run, step__key=key, state__in=["todo", "assigned", "in_progress"])
    if task.state == "assigned":
        task = task_services.start(task=task, by=task.assignee)
    task_services.complete(task=task, by=task.assignee, outcome=outcome)


def main():
    template, lead = setup()
    inputs = {"model": "m", "metrics": {"auc": 0.9}, "thresholds": {"auc": 0.8}}
    per_run = []
    queries = []
    for i in range(RUNS):
        reset_queries()
        start = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            run = services.start_run(
                template=template, title=f"run {i}", owner=lead, by=lead, inputs=inputs
            )
            finish(run, "train", "done")
            finish(run, "evaluate", "failed")  # one loop-back
            finish(run, "train", "done")
            finish(run, "evaluate", "passed")
            with transaction.atomic():
                finish(run, "review", "approved")  # staging + deploy run on commit (eager)
        per_run.append(time.perf_counter() - start)
        queries.append(len(captured))
        last = captured.captured_queries
        run.refresh_from_db()
        assert run.status == "completed", run.failure_reason
    tables: dict[str, int] = {}
    for q in last:
        words = q["sql"].split()
        verb = words[0]
        table = next((w for w in words if w.startswith('"') and "_" in w), "?").split(".")[0]
        tables[f"{verb} {table}"] = tables.get(f"{verb} {table}", 0) + 1
    top = sorted(tables.items(), key=lambda kv: -kv[1])[:8]
    print("busiest statements in the last run: " + ", ".join(f"{k}: {v}" for k, v in top))
    renders = []
    for _ in range(200):
        start = time.perf_counter()
        diagram.render(template)
        renders.append(time.perf_counter() - start)
    print(f"cpu_count={os.cpu_count()} database={connection.vendor}")
    print(
        f"ML run end to end (7 tasks, 1 loop-back, 2 automated steps): "
        f"median {statistics.median(per_run) * 1000:.1f} ms, "
        f"max {max(per_run) * 1000:.1f} ms over {RUNS} runs; "
        f"{statistics.median(queries):.0f} queries per run"
    )
    print(
        f"diagram.render(ML template, 5 steps, 10 routes): "
        f"median {statistics.median(renders) * 1000:.2f} ms over {len(renders)} renders"
    )


if __name__ == "__main__":
    main()
