"""The demo's backdated history (apps.workflows.demo_history) is what the services would have
written: every task's log is a path of the lifecycle, in time order, ending when the task did."""

from collections import defaultdict
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db.models import Count, F, Q
from django_fsm_log.models import StateLog

from apps.people.models import Membership
from apps.tasks.models import ACTIVE_STATES, FINAL_STATES, Task
from apps.workflows.demo_history import MARK
from apps.workflows.models import Run, RunStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())


def _allowed():
    """(transition name, source) → possible targets, read from the fsm's own declarations."""
    allowed = {}
    for transition in Task._meta.get_field("state").get_all_transitions(Task):
        targets = getattr(transition.target, "allowed_states", None) or [transition.target]
        allowed[(transition.name, transition.source)] = set(targets)
    return allowed


def _history_tasks():
    return Task.objects.filter(
        Q(run__inputs__has_key=MARK) | Q(run=None, title__startswith="Chore")
    )


def _every_historic_task_log_is_a_valid_timed_path():
    allowed = _allowed()
    tasks = {t.pk: t for t in _history_tasks()}
    assert len(tasks) > 200
    logs = defaultdict(list)
    ct = ContentType.objects.get_for_model(Task)
    for row in StateLog.objects.filter(content_type=ct, object_id__in=list(tasks)).order_by(
        "timestamp", "pk"
    ):
        logs[row.object_id].append(row)
    for pk, task in tasks.items():
        rows = logs[pk]
        assert rows, task
        state = "todo"
        for previous, row in zip([None, *rows[:-1]], rows, strict=True):
            assert row.source_state == state, (task, row.transition)
            key = (row.transition, row.source_state)
            wildcard = (row.transition, "*")
            assert row.state in allowed.get(key, allowed.get(wildcard, set())), (task, key)
            if previous is not None:
                assert row.timestamp > previous.timestamp
            state = row.state
        assert task.state == state
        assert task.state in FINAL_STATES
        assert task.finished_at == rows[-1].timestamp
        assert task.created_at <= rows[0].timestamp


def _runs_are_finished_with_consistent_times_and_span_weeks():
    runs = Run.objects.filter(inputs__has_key=MARK)
    assert runs.exclude(status__in=[RunStatus.COMPLETED, RunStatus.FAILED]).count() == 0
    assert runs.filter(finished_at__lt=F("started_at")).count() == 0
    first = runs.order_by("started_at").first().started_at
    last = runs.order_by("-finished_at").first().finished_at
    assert last - first >= timedelta(weeks=6)
    for run in runs.filter(team__slug="data-science"):
        latest = run.tasks.order_by("-finished_at").first()
        assert run.finished_at == latest.finished_at
    # Both demo teams have history.
    assert set(runs.values_list("team__slug", flat=True)) == {"data-science", "platform"}


def _history_has_loop_backs_sla_misses_and_a_waiting_bottleneck():
    history = _history_tasks()
    assert history.filter(iteration__gte=2, step__key="train").exists()
    assert history.filter(step__key="evaluate", outputs__accuracy__lt=0.9).exists()
    missed = [
        t
        for t in history.filter(step__sla_hours__isnull=False).select_related("step")
        if t.finished_at - t.created_at > timedelta(hours=t.step.sla_hours)
    ]
    assert missed
    # The ML review waits longest of the ML steps (created → started), by far.
    ct = ContentType.objects.get_for_model(Task)
    waits = defaultdict(list)
    starts = dict(
        StateLog.objects.filter(content_type=ct, transition="start").values_list(
            "object_id", "timestamp"
        )
    )
    for t in history.filter(run__template__slug="ml-deployment").select_related("step"):
        waits[t.step.key].append((starts[t.pk] - t.created_at).total_seconds())
    medians = {k: sorted(v)[len(v) // 2] for k, v in waits.items()}
    assert max(medians, key=medians.get) == "review"
    # One person carried far more than another.
    per_person = dict(
        history.filter(team__slug="data-science")
        .values_list("assignee__username")
        .annotate(n=Count("id"))
    )
    assert per_person["alan"] > 4 * per_person.get("john", 0)


def _capacity_holds_and_a_rerun_adds_nothing(django_capture_on_commit_callbacks):
    for m in Membership.objects.select_related("user"):
        active = Task.objects.filter(assignee=m.user, state__in=ACTIVE_STATES).count()
        assert active <= m.user.capacity, m.user
    counts = (Task.objects.count(), StateLog.objects.count(), Run.objects.count())
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    assert (Task.objects.count(), StateLog.objects.count(), Run.objects.count()) == counts


def test_the_demo_history_is_what_the_services_would_have_written(
    seeded, django_capture_on_commit_callbacks
):
    """One seeded demo for every check (seeding costs seconds, on each database of CI)."""
    _every_historic_task_log_is_a_valid_timed_path()
    _runs_are_finished_with_consistent_times_and_span_weeks()
    _history_has_loop_backs_sla_misses_and_a_waiting_bottleneck()
    _capacity_holds_and_a_rerun_adds_nothing(django_capture_on_commit_callbacks)
