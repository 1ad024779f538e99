"""Assignment engine benchmark: 1,000 people, 10,000 todo tasks.

Prints the batch's time and query count, the time and queries of a single `assign` at several
team sizes, and the spread of load ratios (fairness). Runs on a throwaway database:
a fresh SQLite file by default; with DATABASE_URL set to a PostgreSQL
server, on its database `relay_bench_assignment` (created, and dropped afterwards).

    .venv/bin/python bench/assignment.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/relay .venv/bin/python bench/assignment.py
"""

import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.throwaway import drop_throwaway_database, use_throwaway_database  # noqa: E402

BENCH_DB = "relay_bench_assignment"
PEOPLE, TASKS, SKILLS = 1_000, 10_000, 8
SINGLE_SIZES = (10, 100, 1_000)
SINGLE_RUNS = 200
# BENCH_CAPACITY=1-5 makes capacity scarce: most tasks then wait, with reasons (the slow path).
CAPACITY = tuple(int(n) for n in os.environ.get("BENCH_CAPACITY", "5-25").split("-"))


def choose_database() -> str:
    return use_throwaway_database(BENCH_DB)


def drop_database(vendor: str) -> None:
    drop_throwaway_database(BENCH_DB)


def main() -> None:
    vendor = choose_database()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workflow_site.settings")
    os.environ.setdefault("DEBUG", "0")  # as in production: no debug cursor logging queries
    os.environ.setdefault("SECRET_KEY", "relay-bench-only-" + "x" * 40)  # DEBUG=0 needs one
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from apps.assignment.services.batch import auto_assign_pending
    from apps.assignment.services.single import assign
    from apps.people.models import Membership, PersonSkill, Role, Skill, Team, User
    from apps.tasks.models import Task

    call_command("migrate", verbosity=0)
    rng = random.Random(5)
    skills = Skill.objects.bulk_create(
        Skill(slug=f"s{i}", name=f"Skill {i}") for i in range(SKILLS)
    )

    def make_team(slug: str, size: int) -> Team:
        team = Team.objects.create(name=slug, slug=slug)
        users = User.objects.bulk_create(
            User(username=f"{slug}-{i}", password="!", capacity=rng.randint(*CAPACITY))
            for i in range(size)
        )
        Membership.objects.bulk_create(
            Membership(team=team, user=u, role=Role.LEAD if i == 0 else Role.MEMBER)
            for i, u in enumerate(users)
        )
        PersonSkill.objects.bulk_create(
            PersonSkill(user=u, skill=s, level=rng.randint(1, 5))
            for u in users
            for s in rng.sample(skills, rng.randint(1, 4))
        )
        return team

    def analyze() -> None:
        """Fresh statistics after a bulk load, as a live database has: without them PostgreSQL
        plans the ranking query as if the tables were empty (60 ms instead of 0.8 ms)."""
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    def make_tasks(team: Team, count: int) -> None:
        Task.objects.bulk_create(
            Task(
                team=team,
                title=f"task {i}",
                required_skill=rng.choice([*skills, None]),
                min_level=rng.randint(1, 3),
                priority=rng.randint(1, 4),
            )
            for i in range(count)
        )

    print(f"Assignment benchmark on {vendor} ({connection.vendor}), {os.cpu_count()} CPU cores")
    big = make_team("big", PEOPLE)
    make_tasks(big, TASKS)
    print(
        f"  {PEOPLE} people (capacity {CAPACITY[0]}-{CAPACITY[1]}, 1-4 of {SKILLS} skills "
        f"at level 1-5), {TASKS} tasks"
    )

    analyze()
    # The batch, rolled back afterwards so the single assigns start from the same state.
    with transaction.atomic():
        with counting(connection) as queries:
            started, cpu = time.perf_counter(), time.process_time()
            result = auto_assign_pending(team=big)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        ratios = [
            u.active_count / u.capacity
            for u in User.objects.filter(memberships__team=big).only("active_count", "capacity")
        ]
        over = User.objects.filter(active_count__gt=models_f("capacity")).count()
        transaction.set_rollback(True)
    print(
        f"batch: {elapsed * 1000:.0f} ms wall ({cpu * 1000:.0f} ms CPU in this process), "
        f"{len(queries)} queries "
        f"({result.assigned} assigned, {result.waiting} left waiting)"
    )
    print(
        f"  load ratio: max {max(ratios):.2f}, min {min(ratios):.2f}, "
        f"spread {max(ratios) - min(ratios):.2f}, stdev {statistics.pstdev(ratios):.3f}; "
        f"people over capacity: {over}"
    )
    busy = [r for r in ratios if r > 0]
    print(f"  among people who got work: min {min(busy):.2f}, max {max(busy):.2f}")

    for size in SINGLE_SIZES:
        team = big if size == PEOPLE else make_team(f"t{size}", size)
        if team is not big:
            make_tasks(team, SINGLE_RUNS)
            analyze()
        pending = list(Task.objects.filter(team=team, state="todo").order_by("id")[:SINGLE_RUNS])
        times, cpus, counts = [], [], []
        for task in pending:
            with counting(connection) as queries:
                started, cpu = time.perf_counter(), time.process_time()
                assign(task=task)
                times.append(time.perf_counter() - started)
                cpus.append(time.process_time() - cpu)
            counts.append(len(queries))
        times.sort()
        print(
            f"single assign, team of {size:>5}: median {statistics.median(times) * 1000:.2f} ms "
            f"(CPU {statistics.median(cpus) * 1000:.2f} ms), "
            f"p95 {times[int(len(times) * 0.95)] * 1000:.2f} ms, "
            f"queries min {min(counts)} / max {max(counts)} ({len(times)} runs)"
        )
    # For scale: the tasks app's own assign_to (lock, log, counter, notification) alone, as
    # the engine calls it (vetted: without the eligibility re-check for outside callers).
    from apps.assignment.selectors import best_candidates
    from apps.tasks.services import assign_to

    times = []
    for task in Task.objects.filter(team=big, state="todo").order_by("id")[:SINGLE_RUNS]:
        person = best_candidates(task=task, limit=1)
        if not person:
            continue
        with transaction.atomic():
            started = time.perf_counter()
            assign_to(task=task, assignee=person[0].user, by=None, vetted=True)
            times.append(time.perf_counter() - started)
            transaction.set_rollback(True)
    print(
        f"  for scale, tasks.services.assign_to alone: "
        f"median {statistics.median(times) * 1000:.2f} ms"
    )
    if not os.environ.get("BENCH_KEEP"):
        drop_database(vendor)


class counting:
    """Count queries with an execute wrapper: CaptureQueriesContext would switch on the debug
    cursor, whose per-parameter quoting costs more than the queries being measured."""

    def __init__(self, connection):
        self.connection, self.count = connection, 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        self.wrapper = self.connection.execute_wrapper(self)
        self.wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        self.wrapper.__exit__(*exc)

    def __len__(self):
        return self.count


def models_f(name):
    from django.db.models import F

    return F(name)


if __name__ == "__main__":
    main()
