"""A person marks themselves away or books time off; assignment reacts as it does to the
admin's edits (apps.people.services, then availability_changed after commit)."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.assignment.models import WaitingTask
from apps.assignment.services import single
from apps.core.refusals import Forbidden, Refused
from apps.people import services as people_services
from apps.people.models import TimeOff
from apps.tasks.models import State

from ..factories import TimeOffFactory


def _later(user) -> TimeOff:
    starts = timezone.now() + timedelta(days=3)
    return TimeOffFactory(user=user, starts=starts, ends=starts + timedelta(days=2))


def test_marking_oneself_away_stops_new_work(make_person, ml_task):
    ann = make_person("ann")
    people_services.set_away(user=ann, is_away=True)
    task = ml_task()
    result = single.assign_with_decision(task=task)
    assert result.task is None  # nobody else can take it: it waits
    ann.refresh_from_db()
    assert ann.is_away


def test_coming_back_assigns_the_task_that_waited(
    make_person, ml_task, django_capture_on_commit_callbacks
):
    ann = make_person("ann", is_away=True)
    task = ml_task()
    single.assign_with_decision(task=task)
    assert WaitingTask.objects.filter(task=task).exists()
    with django_capture_on_commit_callbacks(execute=True):
        people_services.set_away(user=ann, is_away=False)
    task.refresh_from_db()
    assert task.state == State.ASSIGNED and task.assignee == ann


def test_cancelling_time_off_assigns_the_task_that_waited(
    make_person, ml_task, django_capture_on_commit_callbacks
):
    ann = make_person("ann")
    off = TimeOffFactory(
        user=ann,
        starts=timezone.now() - timedelta(days=1),
        ends=timezone.now() + timedelta(days=2),
    )
    task = ml_task()
    single.assign_with_decision(task=task)
    with django_capture_on_commit_callbacks(execute=True):
        people_services.cancel_time_off(time_off=off, by=ann)
    task.refresh_from_db()
    assert task.assignee == ann


def test_time_off_booked_now_keeps_new_work_away(make_person, ml_task):
    ann = make_person("ann")
    people_services.book_time_off(
        user=ann,
        starts=timezone.now() - timedelta(hours=1),
        ends=timezone.now() + timedelta(days=1),
    )
    assert single.assign_with_decision(task=ml_task()).task is None


def test_time_off_must_end_after_it_starts_and_in_the_future(make_person):
    ann = make_person("ann")
    now = timezone.now()
    with pytest.raises(Refused, match="end after it starts"):
        people_services.book_time_off(user=ann, starts=now, ends=now - timedelta(hours=1))
    with pytest.raises(Refused, match="already over"):
        people_services.book_time_off(
            user=ann, starts=now - timedelta(days=3), ends=now - timedelta(days=1)
        )
    assert not TimeOff.objects.exists()


def test_nobody_cancels_someone_elses_time_off(make_person):
    ann, bob = make_person("ann"), make_person("bob")
    off = _later(ann)
    with pytest.raises(Forbidden):
        people_services.cancel_time_off(time_off=off, by=bob)
    assert TimeOff.objects.filter(pk=off.pk).exists()


def test_settings_page_books_whole_days_and_leads_see_them_on_workload(
    client_for, make_person, lead, team
):
    ann = make_person("ann")
    first = date.today() + timedelta(days=7)
    response = client_for(ann).post(
        reverse("people:book_time_off"),
        {"first_day": first.isoformat(), "last_day": (first + timedelta(days=2)).isoformat()},
    )
    assert response.status_code == 302
    off = TimeOff.objects.get(user=ann)
    assert (off.ends - off.starts) == timedelta(days=3)
    workload = client_for(lead).get(reverse("assignment:workload", args=[team.slug]))
    assert f"{first:%-d %b}" in workload.content.decode()


def test_settings_page_refuses_a_last_day_before_the_first(client_for, make_person):
    ann = make_person("ann")
    first = date.today() + timedelta(days=7)
    response = client_for(ann).post(
        reverse("people:book_time_off"),
        {"first_day": first.isoformat(), "last_day": (first - timedelta(days=1)).isoformat()},
    )
    assert response.status_code == 422
    assert "cannot be before the first" in response.content.decode()
    assert not TimeOff.objects.exists()


def test_someone_elses_time_off_is_not_found(client_for, make_person):
    ann, bob = make_person("ann"), make_person("bob")
    off = _later(ann)
    response = client_for(bob).post(reverse("people:cancel_time_off", args=[off.pk]))
    assert response.status_code == 404
    assert TimeOff.objects.filter(pk=off.pk).exists()


def test_settings_page_marks_away_and_back(client_for, make_person):
    ann = make_person("ann")
    client = client_for(ann)
    client.post(reverse("people:set_away"), {"away": "on"})
    ann.refresh_from_db()
    assert ann.is_away
    page = client.get(reverse("people:availability")).content.decode()
    assert "You are marked away" in page
    client.post(reverse("people:set_away"), {})
    ann.refresh_from_db()
    assert not ann.is_away
