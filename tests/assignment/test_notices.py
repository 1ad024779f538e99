"""Who hears what around assignment: the person taken off a task, and the leads about work
nobody can take (one notice per batch, none to a lead who is away or on time off)."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from apps.assignment.services import batch as batch_services
from apps.assignment.services import single
from apps.notifications.models import Kind, Notification
from apps.people.models import Role
from apps.tasks import services as task_services

from ..factories import TimeOffFactory


def test_the_person_taken_off_a_task_is_told(make_person, ml_task, lead):
    ann = make_person("ann")
    task = single.assign_with_decision(task=ml_task(title="Label data"), person=ann, by=lead).task
    task_services.unassign(task=task, by=lead, note="Ken will take it")
    told = Notification.objects.get(kind=Kind.UNASSIGNED)
    assert told.recipient == ann
    assert told.task == task
    assert told.payload["note"] == "Ken will take it"


def test_giving_a_task_up_oneself_tells_nobody(make_person, ml_task):
    ann = make_person("ann")
    task = single.assign_with_decision(task=ml_task(), person=ann, by=ann).task
    task_services.unassign(task=task, by=ann)
    assert not Notification.objects.filter(kind=Kind.UNASSIGNED).exists()


def test_a_batch_leaving_tasks_waiting_sends_each_lead_one_email(
    make_member, ml_task, team, lead, mailoutbox, django_capture_on_commit_callbacks
):
    other_lead = make_member(Role.LEAD, username="lin")
    for i in range(4):
        ml_task(title=f"orphan {i}")
    with django_capture_on_commit_callbacks(execute=True):
        result = batch_services.auto_assign_pending(team=team)
    assert result.waiting == 4
    assert sorted(m.to[0] for m in mailoutbox) == sorted([lead.email, other_lead.email])
    [mail] = [m for m in mailoutbox if m.to == [lead.email]]
    assert "4 tasks" in mail.subject
    assert all(f"orphan {i}" in mail.body for i in range(4))
    notice = Notification.objects.get(kind=Kind.UNASSIGNABLE, recipient=lead)
    assert notice.payload["url"] == reverse("assignment:workload", args=[team.slug])


def test_a_batch_with_one_waiting_task_names_it(ml_task, team, lead):
    task = ml_task(title="lonely")
    batch_services.auto_assign_pending(team=team)
    assert Notification.objects.get(kind=Kind.UNASSIGNABLE, recipient=lead).task == task


def test_no_unassignable_notice_for_a_lead_on_time_off_or_away(
    make_member, ml_task, team, lead, mailoutbox, django_capture_on_commit_callbacks
):
    now = timezone.now()
    TimeOffFactory(user=lead, starts=now - timedelta(days=1), ends=now + timedelta(days=1))
    away = make_member(Role.LEAD, username="wander", is_away=True)
    at_work = make_member(Role.LEAD, username="lin")
    for i in range(2):
        ml_task(title=f"orphan {i}")
    with django_capture_on_commit_callbacks(execute=True):
        batch_services.auto_assign_pending(team=team)
        single.assign_with_decision(task=ml_task(title="one more"))
    told = set(
        Notification.objects.filter(kind=Kind.UNASSIGNABLE).values_list("recipient", flat=True)
    )
    assert told == {at_work.pk}
    assert {m.to[0] for m in mailoutbox} == {at_work.email}
    assert lead.pk not in told and away.pk not in told
