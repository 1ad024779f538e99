"""Two beats escalating at the same moment on PostgreSQL: each stage happens and is told once
(the task's row lock orders them; the unique (task, stage) row is the database's last word)."""

from datetime import timedelta

import pytest

from apps.notifications.models import Kind, Notification
from apps.people.models import Role
from apps.tasks import services as task_services
from apps.tasks.models import Escalation, Task
from apps.workflows import escalation, exchange, services

from ..concurrency import run_together
from ..factories import MembershipFactory, PersonSkillFactory, SkillFactory, TeamFactory
from ..workflows.helpers import GAP, escalating_document

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def late_task():
    team = TeamFactory(slug="data-science")
    python = SkillFactory(slug="python")
    SkillFactory(slug="ml-review", is_review_skill=True)
    lead = MembershipFactory(team=team, user__username="lead", role=Role.LEAD).user
    coders = []
    for name in ("cody", "sam"):
        coder = MembershipFactory(team=team, user__username=name, role=Role.MEMBER).user
        PersonSkillFactory(user=coder, skill=python, level=3)
        coders.append(coder)
    template = exchange.import_template(escalating_document(), team=team)
    run = services.start_run(template=template, title="Churn v3", owner=lead, by=lead)
    task = Task.objects.get(run=run, step__key="write")
    return task_services.assign_to(task=task, assignee=coders[0], by=lead)


def test_two_beats_at_once_escalate_each_stage_once(late_task):
    for hours in (0, GAP, 2 * GAP):
        now = late_task.due_at + timedelta(hours=hours, minutes=1)
        results = run_together(*[lambda now=now: escalation.escalate_overdue(now=now)] * 3)
        assert sorted(len(value) for _, value in results) == [0, 0, 1], results
    assert list(Escalation.objects.values_list("stage", flat=True)) == [
        "remind",
        "lead",
        "reassign",
    ]
    assert Notification.objects.filter(kind=Kind.OVERDUE).count() == 1
    assert Notification.objects.filter(kind=Kind.ESCALATED).count() == 2  # lead, re-assigned
    late_task.refresh_from_db()
    assert late_task.assignee.username == "sam"
    assert (
        Notification.objects.filter(kind=Kind.ASSIGNED, recipient=late_task.assignee).count() == 1
    )
