"""Automated steps on PostgreSQL: deliveries of one step at the same moment have one effect,
and `seed_demo` with the broker down succeeds and strands no run once a sweep has run."""

import os
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
from django.db import connection

from apps.people.models import Role
from apps.tasks.models import State, Task
from apps.workflows import actions, definitions, exchange, services
from apps.workflows.models import Deployment, RunStatus, StepDispatch, StepKind
from apps.workflows.tasks import run_automated_step

from ..concurrency import run_together
from ..factories import MembershipFactory, PersonSkillFactory, SkillFactory, TeamFactory
from ..workflows.helpers import finish, open_task, with_automated_staging

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
GOOD_INPUTS = {"model": "churn-v3", "metrics": {"auc": 0.91}, "thresholds": {"auc": 0.85}}

_calls: list = []


def slow_deploy(*, run, task, key=None):
    """deploy_model after a pause, so deliveries that both got past the claim would overlap."""
    _calls.append(key)
    time.sleep(0.3)
    return actions.deploy_model(run=run, task=task, key=key)


@pytest.fixture
def deploy(settings):
    """An ML run at its deploy step, whose message was lost (the deliveries are the test's)."""
    team = TeamFactory(slug="dispatch")
    people = {}
    for name, role, skill in [
        ("lead", Role.LEAD, None),
        ("tara", Role.MEMBER, "ml-training"),
        ("rex", Role.REVIEWER, "ml-review"),
    ]:
        people[name] = MembershipFactory(team=team, user__username=name, role=role).user
        people[name].capacity = 5
        people[name].save(update_fields=["capacity"])
        if skill:
            PersonSkillFactory(
                user=people[name],
                skill=SkillFactory(slug=skill, is_review_skill=skill == "ml-review"),
                level=4,
            )
    path = f"{__name__}.slow_deploy"
    settings.RELAY_ACTIONS = [*settings.RELAY_ACTIONS, path]
    template = exchange.import_template(
        with_automated_staging(definitions.ML_DEPLOYMENT), team=team
    )
    template.steps.filter(key="deploy").update(action=path)
    lead = people["lead"]
    run = services.start_run(
        template=template, title="churn-v3", owner=lead, by=lead, inputs=GOOD_INPUTS
    )
    finish(run, "train")
    finish(run, "evaluate", "passed")
    with mock.patch.object(run_automated_step, "apply_async"):
        finish(run, "review", "approved")
        assert run_automated_step(open_task(run, "staging").pk) == "passed"
    _calls.clear()
    return open_task(run, "deploy")


def test_four_deliveries_of_one_automated_step_at_once_deploy_once(deploy):
    results = run_together(*[lambda: run_automated_step(deploy.pk)] * 4)
    assert sorted(value for _, value in results) == ["passed", "skipped", "skipped", "skipped"]
    assert _calls == [f"automated:task:{deploy.pk}"]
    assert Deployment.objects.filter(run=deploy.run).count() == 1
    deploy.run.refresh_from_db()
    assert deploy.run.status == RunStatus.COMPLETED


def test_two_runs_of_the_action_with_one_key_at_once_record_one_deployment(deploy):
    """What a second worker does if it took over a lease while the first was still deploying."""
    key = StepDispatch.objects.get(task=deploy).key
    results = run_together(
        *[lambda: actions.deploy_model(run=deploy.run, task=deploy, key=key)] * 2
    )
    assert [kind for kind, _ in results] == ["ok", "ok"]
    assert Deployment.objects.filter(run=deploy.run, key=key).count() == 1


def test_seed_demo_with_the_broker_down_exits_0_and_a_sweep_finishes_its_automated_steps(
    settings,
):
    db = connection.settings_dict
    login = f"{db['USER']}:{db['PASSWORD']}" if db["PASSWORD"] else db["USER"]
    env = {
        **os.environ,
        # The test's own (migrated, empty) database, committed to by the command.
        "DATABASE_URL": f"postgres://{login}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",  # nothing listens there
    }
    seeded = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr
    assert "Demo data ready." in seeded.stdout
    assert "automated step(s) of the demo runs will run when a worker takes them" in (seeded.stdout)
    stranded = Task.objects.filter(
        step__kind=StepKind.AUTOMATED, state=State.IN_PROGRESS, run__status=RunStatus.RUNNING
    )
    assert stranded.exists()

    settings.RELAY_STEP_SWEEP_GRACE = 0  # later, with a working (here eager) Celery
    services.sweep_dispatches()
    assert not stranded.exists()
    # recsys-v2 waits for CI (an external step): nothing of its to sweep.
    assert not StepDispatch.objects.filter(finished_at__isnull=True, kind="automated").exists()
    assert Deployment.objects.filter(run__title="sentiment-v3").count() == 1
