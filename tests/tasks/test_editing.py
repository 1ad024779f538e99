"""Editing a task (apps.tasks.edits): who may change which field, the history rows an edit
writes, and the edits refused (stale form, finished task, unfit reviewer or assignee)."""

import copy
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from apps.core.refusals import Refused
from apps.people.models import Role
from apps.tasks import edits, services
from apps.tasks.models import Priority, TaskChange
from apps.workflows import definitions, exchange
from apps.workflows import services as workflow_services

from ..factories import PersonSkillFactory, SkillFactory

pytestmark = pytest.mark.django_db


def due(day: int, hour: int = 14):
    return timezone.make_aware(datetime(2026, 12, day, hour, 0))


def edit(task, by, **values):
    task.refresh_from_db()
    return edits.edit_task(task=task, by=by, version=edits.version_of(task), **values)


def history(task) -> list[str]:
    return [f"{c.by.username} {c.field}: {c.old} → {c.new}" for c in task.changes.all()]


def test_assignee_edits_what_the_work_is_and_each_field_is_a_history_row(task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    edit(task, lead, due_at=due(3))
    before = task.changes.count()
    edit(task, member, title="Train the churn model", due_at=due(5), priority=Priority.HIGH)
    task.refresh_from_db()
    assert (task.title, task.due_at, task.priority) == (
        "Train the churn model",
        due(5),
        Priority.HIGH,
    )
    assert history(task)[before:] == [
        "mia title: Train churn model → Train the churn model",
        "mia due_at: 3 Dec 14:00 → 5 Dec 14:00",
        "mia priority: Normal → High",
    ]


def test_an_edit_that_changes_nothing_writes_nothing(task, lead):
    edit(task, lead, due_at=due(3, 9).replace(second=41))
    task.refresh_from_db()
    stamp = task.updated_at
    # The same values as the form shows them: the due date to the minute, the description
    # with the browser's line breaks.
    rows = edit(task, lead, title=task.title, description="\r\n", due_at=due(3, 9))
    assert rows == []
    task.refresh_from_db()
    assert task.updated_at == stamp
    assert task.changes.count() == 1


def test_only_the_assignee_creator_or_a_lead_edits(task, member, other_member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    with pytest.raises(Refused) as refused:
        edit(task, other_member, title="Mine now")
    assert refused.value.status == 403
    assert "assignee, its creator or a team lead" in refused.value.message
    assert not edits.may_edit(task=task, user=other_member)
    assert task.changes.count() == 0


def test_the_assignee_may_not_choose_their_reviewer_or_lower_the_skill(
    task, member, reviewer, lead
):
    task = services.assign_to(task=task, assignee=member, by=lead)
    assert edits.editable_fields(task=task, user=member) == set(edits.WORK_FIELDS)
    for change in ({"reviewer": reviewer}, {"min_level": 3}):
        with pytest.raises(Refused) as refused:
            edit(task, member, **change)
        assert refused.value.status == 403
        assert refused.value.message == (
            "Only a lead or the task's creator can change the required skill or the reviewer."
        )
    assert task.changes.count() == 0


def test_the_creator_names_a_reviewer_but_never_the_assignee(
    team, make_member, member, reviewer, lead
):
    creator = make_member(username="cleo")
    task = services.create_task(team=team, title="Write the report", by=creator)
    services.assign_to(task=task, assignee=member, by=lead)
    edit(task, creator, reviewer=reviewer)
    assert history(task) == [f"cleo reviewer: nobody → {reviewer.display_name}"]
    with pytest.raises(Refused, match="is doing this task: someone else must review it"):
        edit(task, lead, reviewer=member)
    plain = make_member(username="pete")
    with pytest.raises(Refused, match="can't review in Data Science"):
        edit(task, lead, reviewer=plain)


def test_a_skill_change_keeps_the_assignee_qualified(task, member, lead):
    python = SkillFactory(slug="python", name="Python")
    PersonSkillFactory(user=member, skill=python, level=2)
    services.assign_to(task=task, assignee=member, by=lead)
    edit(task, lead, required_skill=python, min_level=2)
    with pytest.raises(Refused) as refused:
        edit(task, lead, min_level=4)
    assert refused.value.message == (
        f"{member.display_name} doesn't have Python at level 4: unassign the task first, "
        "or ask for a lower level."
    )
    task.refresh_from_db()
    assert task.min_level == 2
    assert history(task) == ["leo required_skill: none → Python", "leo min_level: 1 → 2"]


def test_a_stale_form_is_refused_and_nothing_is_written(task, member, lead):
    task.refresh_from_db()
    shown = edits.version_of(task)
    edit(task, lead, title="Someone else's title")
    with pytest.raises(Refused) as refused:
        edits.edit_task(task=task, by=lead, version=shown, title="Mine")
    assert refused.value.status == 409
    assert "changed this task since you opened the form" in refused.value.message
    task.refresh_from_db()
    assert task.title == "Someone else's title"
    assert task.changes.count() == 1


def test_a_transition_makes_an_open_form_stale(task, member, lead):
    task.refresh_from_db()
    shown = edits.version_of(task)
    services.assign_to(task=task, assignee=member, by=lead)
    with pytest.raises(Refused, match="since you opened the form"):
        edits.edit_task(task=task, by=lead, version=shown, priority=Priority.URGENT)


def test_a_finished_task_is_not_edited(task, lead):
    task = services.cancel(task=task, by=lead)
    assert not edits.may_edit(task=task, user=lead)
    with pytest.raises(Refused, match="A finished task can't be edited"):
        edit(task, lead, title="Too late")


def test_a_workflow_task_keeps_its_steps_skill_but_its_title_and_due_date_are_editable(
    team, lead, make_member
):
    SkillFactory(slug="ml-training")
    SkillFactory(slug="ml-review", is_review_skill=True)
    template = exchange.import_template(copy.deepcopy(definitions.ML_DEPLOYMENT), team=team)
    run = workflow_services.start_run(template=template, title="churn", owner=lead, by=lead)
    task = run.tasks.get()
    skill = task.required_skill
    with pytest.raises(Refused, match="come from its workflow step"):
        edit(task, lead, min_level=5)
    with pytest.raises(Refused, match="reviewed by the run's own review step"):
        edit(task, lead, reviewer=make_member(Role.REVIEWER, username="rex"))
    edit(task, lead, due_at=timezone.now() + timedelta(days=9), priority=Priority.URGENT)
    task.refresh_from_db()
    assert task.required_skill == skill
    assert [c.field for c in task.changes.all()] == ["due_at", "priority"]


def test_history_interleaves_edits_with_transitions(task, member, lead):
    from apps.tasks.selectors import task_timeline

    edit(task, lead, priority=Priority.HIGH)
    services.assign_to(task=task, assignee=member, by=lead)
    edit(task, member, title="Renamed")
    entries = task_timeline(task)
    assert [getattr(e, "field", None) or e.transition for e in entries] == [
        "priority",
        "assign",
        "title",
    ]
    assert TaskChange.objects.filter(task=task).count() == 2
