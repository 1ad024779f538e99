"""External steps on PostgreSQL: reports and timeouts arriving at the same moment are decided
one after the other under the task's lock, so a step finishes once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.people.models import Role
from apps.tasks import services as task_services
from apps.tasks.models import Task
from apps.workflows import definitions, exchange, services

from ..concurrency import run_together
from ..factories import MembershipFactory, PersonSkillFactory, SkillFactory, TeamFactory
from ..workflows.helpers import finish, open_task

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staging():
    team = TeamFactory(slug="data-science")
    people = {}
    for name, role, skill in (
        ("lead", Role.LEAD, None),
        ("trainer", Role.MEMBER, "ml-training"),
        ("reviewer", Role.REVIEWER, "ml-review"),
    ):
        people[name] = MembershipFactory(team=team, user__username=name, role=role).user
        if skill:
            PersonSkillFactory(
                user=people[name],
                skill=SkillFactory(slug=skill, is_review_skill=skill == "ml-review"),
                level=4,
            )
    template = exchange.import_template(definitions.ML_DEPLOYMENT, team=team)
    lead = people["lead"]
    run = services.start_run(template=template, title="churn-v3", owner=lead, by=lead)
    finish(run, "train")
    finish(run, "evaluate", "passed")
    finish(run, "review", "approved")
    return open_task(run, "staging")


def _decided(call):
    def attempt():
        try:
            return call()
        except services.WorkflowError as error:
            return error.status

    return attempt


def test_two_different_reports_at_once_one_wins_and_the_other_is_409(staging):
    caller = services.TeamCaller(team=staging.team)
    results = run_together(
        *[
            _decided(
                lambda outcome=outcome: (
                    services.report_external_result(
                        task=staging, outcome=outcome, caller=caller
                    ).outcome
                )
            )
            for outcome in ("passed", "failed", "passed", "failed")
        ]
    )
    values = [value for _, value in results]
    assert values.count(409) == 2, values
    winner = next(v for v in values if v != 409)
    assert values.count(winner) == 2  # the winner's repeat is answered the same
    staging.refresh_from_db()
    assert staging.outcome == winner
    trains = Task.objects.filter(run=staging.run, step__key="train").count()
    assert trains == (2 if winner == "failed" else 1)


def test_two_sweeps_at_once_time_the_step_out_once(staging):
    later = timezone.now() + timedelta(hours=7)
    results = run_together(*[lambda: services.time_out_external_steps(now=later)] * 3)
    assert sorted(value for _, value in results) == [0, 0, 1]
    assert Task.objects.filter(run=staging.run, step__key="train").count() == 2


def test_a_leads_settlement_and_a_report_at_once_finish_the_step_once(staging):
    lead = staging.team.memberships.get(role=Role.LEAD).user
    caller = services.TeamCaller(team=staging.team)
    results = run_together(
        _decided(
            lambda: (
                services.report_external_result(
                    task=staging, outcome="passed", caller=caller
                ).outcome
            )
        ),
        _decided(lambda: task_services.complete(task=staging, by=lead, outcome="failed").outcome),
    )
    report, settlement = results
    # One of them finished the step; the other was refused because it already had.
    assert sorted([report[1] == 409, settlement[0] == "refused"]) == [False, True], results
    staging.refresh_from_db()
    trains = Task.objects.filter(run=staging.run, step__key="train").count()
    assert (staging.outcome, trains) == (("passed", 1) if report[1] == "passed" else ("failed", 2))
