"""Parallel branches: the step after a join starts once, after every branch is done."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from apps.people.models import Role
from apps.tasks.models import Task
from apps.workflows import exchange, services
from apps.workflows.models import RunStatus

from ..factories import PersonSkillFactory
from .helpers import finish, open_task

BRANCHES = ("accounts", "equipment", "training")
# Three manual branches joined before "first day" (the shipped onboarding template runs its
# branches as sub-workflows: tests/workflows/test_subworkflows.py).
PARALLEL = {
    "slug": "parallel-onboarding",
    "name": "Parallel onboarding",
    "steps": [
        {"key": "intake", "name": "HR intake", "is_start": True, "is_split": True},
        {"key": "accounts", "name": "Accounts", "required_skill": "devops", "min_level": 2},
        {"key": "equipment", "name": "Equipment", "required_skill": "support", "min_level": 2},
        {"key": "training", "name": "Training plan", "required_skill": "writing", "min_level": 2},
        {"key": "first-day", "name": "First day", "is_join": True},
    ],
    "routes": [
        *({"from": "intake", "outcome": "done", "to": key} for key in BRANCHES),
        *({"from": key, "outcome": "done", "to": "first-day"} for key in BRANCHES),
        {"from": "first-day", "outcome": "done", "to": None},
    ],
}


@pytest.fixture
def helper(make_member, skills):
    user = make_member(Role.LEAD, username="hana", capacity=10)
    for slug in ("devops", "support", "writing"):
        PersonSkillFactory(user=user, skill=skills[slug], level=3)
    return user


@pytest.fixture
def onboarding(team, skills, helper):
    template = exchange.import_template({**PARALLEL, "team": team.slug}, team=team)
    run = services.start_run(template=template, title="Welcome Ivy", owner=helper, by=helper)
    finish(run, "intake", taker=helper)
    return run


def _first_day_tasks(run):
    return Task.objects.filter(run=run, step__key="first-day")


def test_a_split_starts_every_branch_at_once(onboarding):
    assert sorted(
        Task.objects.filter(run=onboarding, step__key__in=BRANCHES).values_list(
            "step__key", flat=True
        )
    ) == sorted(BRANCHES)


def test_the_join_waits_until_every_branch_is_done(onboarding, helper):
    finish(onboarding, "accounts", taker=helper)
    finish(onboarding, "equipment", taker=helper)
    assert not _first_day_tasks(onboarding).exists()
    finish(onboarding, "training", taker=helper)
    assert _first_day_tasks(onboarding).count() == 1


def test_the_run_completes_after_the_join_reaches_end(onboarding, helper):
    for key in BRANCHES:
        finish(onboarding, key, taker=helper)
    finish(onboarding, "first-day", taker=helper)
    onboarding.refresh_from_db()
    assert onboarding.status == RunStatus.COMPLETED


def test_the_database_refuses_a_second_task_for_the_same_step_iteration(onboarding):
    existing = open_task(onboarding, "accounts")
    with pytest.raises(IntegrityError):
        Task.objects.create(
            team=existing.team, title="dup", run=onboarding, step=existing.step, iteration=1
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_join_step_is_created_once_when_the_last_two_branches_finish_together(
    onboarding, helper
):
    finish(onboarding, "accounts", taker=helper)
    tasks = [open_task(onboarding, key) for key in ("equipment", "training")]
    # Each branch's `done` is written but not committed before either routes the run: the
    # worst interleaving, made certain with a barrier instead of left to luck. (Task
    # transitions themselves also lock the team row, so this drives the engine directly.)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def finish_branch(task):
        try:
            with transaction.atomic():
                Task.objects.filter(pk=task.pk).update(state="done", outcome="done")
                barrier.wait(timeout=10)
                services.advance_run(task=Task.objects.get(pk=task.pk))
        except BaseException as error:  # reported below, in the test thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=finish_branch, args=(task,)) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert _first_day_tasks(onboarding).count() == 1


def _branching(team, *, join: bool):
    return exchange.import_template(
        {
            "team": team.slug,
            "slug": "branching",
            "name": "Branching",
            "steps": [
                {"key": "a", "name": "A", "is_start": True, "is_split": True},
                {"key": "b", "name": "B"},
                {"key": "c", "name": "C"},
                {"key": "d", "name": "D", "is_join": join},
            ],
            "routes": [
                {"from": "a", "outcome": "done", "to": "b"},
                {"from": "a", "outcome": "done", "to": "c"},
                {"from": "b", "outcome": "done", "to": "d"},
                {"from": "c", "outcome": "done", "to": "d"},
                {"from": "d", "outcome": "done", "to": None},
            ],
        },
        team=team,
    )


def test_without_a_join_the_first_arrival_opens_the_step_and_later_ones_join_it(team, helper):
    run = services.start_run(
        template=_branching(team, join=False), title="first", owner=helper, by=helper
    )
    finish(run, "a", taker=helper)
    finish(run, "b", taker=helper)
    assert Task.objects.filter(run=run, step__key="d").count() == 1
    finish(run, "c", taker=helper)
    assert Task.objects.filter(run=run, step__key="d").count() == 1
    finish(run, "d", taker=helper)
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
