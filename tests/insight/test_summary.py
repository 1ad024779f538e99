"""The insight summary kept by the triggers is the summary `rebuild_insight` counts from the
log: after any sequence of transitions, reassignments, edits and deletions, the two agree row
for row, and the pages' figures do not change when it is rebuilt or compacted."""

import random
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_fsm_log.models import StateLog

from apps.insight import summary
from apps.insight.models import DayFlow, TaskFlow
from apps.insight.team import team_flow
from apps.tasks import services
from apps.tasks.models import Task

pytestmark = pytest.mark.django_db


def kept() -> tuple[Counter, set]:
    """The summary as its sums: (team, day, person, state) → (entries, exits), and TaskFlow."""
    days: Counter = Counter()
    for row in DayFlow.objects.values("team_id", "day", "person_id", "state", "entries", "exits"):
        key = (row["team_id"], row["day"], row["person_id"], row["state"])
        days[(*key, "in")] += row["entries"]
        days[(*key, "out")] += row["exits"]
    flows = set(TaskFlow.objects.values_list("task_id", "team_id", "started_at", "done_at"))
    return +days, flows


def _random_history(rng, tasks, people, lead) -> int:
    """Random moves through the services, as many users would make them; returns how many
    the lifecycle let through."""
    done = 0
    for _ in range(150):
        task = Task.objects.get(pk=rng.choice(tasks).pk)
        possible = [t.name for t in task.get_available_state_transitions()]
        # Cancelling ends a task's story: rarely, so most tasks go a long way.
        possible = [a for a in possible if a != "cancel" or rng.random() < 0.1]
        if not possible:
            continue
        action = rng.choice(possible)
        kwargs = {"assignee": rng.choice(people)} if action == "assign" else {}
        if action == "complete":
            kwargs["outcome"] = "done"
        try:
            services.perform(task=task, action=action, by=lead, **kwargs)
        except Exception:  # a move the lifecycle refuses now: the next one is tried
            continue
        done += 1
    return done


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_kept_summary_equals_a_rebuild_after_random_work(
    seed, team, make_task, lead, member, other_member
):
    rng = random.Random(seed)
    people = [lead, member, other_member]
    tasks = [make_task(title=f"task {i}") for i in range(12)]
    assert _random_history(rng, tasks, people, lead) > 30
    # Writes that bypass the services: the triggers see them too.
    moved = tasks[0]
    Task.objects.filter(pk=moved.pk).update(
        assignee=other_member, created_at=timezone.now() - timedelta(days=3)
    )
    last = StateLog.objects.filter(object_id=tasks[1].pk).order_by("-pk").first()
    if last:
        last.delete()
    Task.objects.filter(pk=tasks[2].pk).delete()
    before = kept()
    assert before[0], "the random work wrote no summary"

    summary.rebuild()

    assert kept() == before


def test_rebuild_is_idempotent_and_compacting_keeps_the_sums(team, make_task, lead, member):
    rng = random.Random(7)
    tasks = [make_task(title=f"task {i}") for i in range(5)]
    _random_history(rng, tasks, [lead, member], lead)
    rows_before = DayFlow.objects.count()
    before = kept()
    call_command("rebuild_insight", verbosity=0)
    call_command("rebuild_insight", verbosity=0)
    assert kept() == before
    assert DayFlow.objects.count() < rows_before  # folded: one row per day, person and state
    assert summary.compact() == 0  # nothing left to fold


def test_the_pages_figures_do_not_change_when_the_summary_is_rebuilt(team, make_task, lead, member):
    rng = random.Random(5)
    tasks = [make_task(title=f"task {i}") for i in range(6)]
    _random_history(rng, tasks, [lead, member], lead)
    today = timezone.localdate()
    figures = team_flow(team=team, start=today - timedelta(days=3), end=today)
    assert sum(counts[-1] for counts in figures.cfd.values()) == 6
    summary.rebuild()
    again = team_flow(team=team, start=today - timedelta(days=3), end=today)
    assert (again.cfd, again.load, again.cycle, again.p50) == (
        figures.cfd,
        figures.load,
        figures.cycle,
        figures.p50,
    )


def test_a_transition_writes_the_summary_in_its_own_transaction(team, make_task, lead):
    task = make_task(title="watched")
    services.perform(task=task, action="assign", by=lead, assignee=lead)
    services.perform(task=Task.objects.get(pk=task.pk), action="start", by=lead)
    flow = TaskFlow.objects.get(task_id=task.pk)
    assert flow.started_at is not None and flow.done_at is None
    today = timezone.localdate()
    held = DayFlow.objects.filter(team=team, day=today, person=lead, state="in_progress")
    assert sum(r.entries - r.exits for r in held) == 1


@pytest.mark.django_db(transaction=True)
def test_the_summary_survives_a_migration_that_remakes_the_tasks_table(team, make_task, lead):
    """SQLite remakes a table for most ALTERs and drops its triggers with it."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("only SQLite remakes tables")
    with connection.schema_editor() as editor:
        editor._remake_table(Task)
    task = make_task(title="after the remake")
    services.perform(task=task, action="assign", by=lead, assignee=lead)
    services.perform(task=Task.objects.get(pk=task.pk), action="start", by=lead)
    assert TaskFlow.objects.get(task_id=task.pk).started_at is not None
    assert summary.present(connection) == 6
