"""Overdue reminders and daily digests are safe to run twice."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.notifications.models import Channel, Kind, Notification
from apps.notifications.services.inbox import update_preferences
from apps.tasks import reminders
from apps.tasks import services as tasks

pytestmark = pytest.mark.django_db


def prefer(user, **fields):
    channels = fields.pop("channels", {})
    defaults = {"time_zone": "UTC", "digest_hour": 8, "digest_enabled": True}
    return update_preferences(user=user, channels=channels, **(defaults | fields))


# --- overdue -------------------------------------------------------------------------------------


def test_overdue_task_reminds_its_assignee_once_a_day(make_task, member, lead):
    late = make_task(title="Late", due_at=timezone.now() - timedelta(hours=2))
    tasks.assign_to(task=late, assignee=member, by=lead)
    assert reminders.send_overdue_reminders() == 1
    assert reminders.send_overdue_reminders() == 0
    reminder = Notification.objects.get(kind=Kind.OVERDUE)
    assert reminder.recipient == member
    assert reminder.task == late


def test_overdue_reminder_comes_again_the_next_day(make_task, member, lead):
    late = make_task(title="Late", due_at=timezone.now() - timedelta(hours=2))
    tasks.assign_to(task=late, assignee=member, by=lead)
    reminders.send_overdue_reminders()
    assert reminders.send_overdue_reminders(now=timezone.now() + timedelta(days=1)) == 1


def test_unassigned_overdue_task_reminds_the_team_leads(make_task, lead):
    make_task(title="Nobody's", due_at=timezone.now() - timedelta(hours=1))
    reminders.send_overdue_reminders()
    assert list(
        Notification.objects.filter(kind=Kind.OVERDUE).values_list("recipient", flat=True)
    ) == [lead.pk]


def test_finished_and_not_yet_due_tasks_get_no_reminder(make_task, lead):
    make_task(title="Later", due_at=timezone.now() + timedelta(hours=1))
    done = make_task(title="Gone", due_at=timezone.now() - timedelta(hours=1))
    tasks.cancel(task=done, by=lead)
    assert reminders.send_overdue_reminders() == 0


# --- digests ---------------------------------------------------------------------------------


@pytest.fixture
def busy_member(member, lead, make_task):
    work = make_task(title="Open work")
    tasks.assign_to(task=work, assignee=member, by=lead)
    return member


def at_utc(hour):
    return datetime(2026, 11, 25, hour, 30, tzinfo=UTC)


def test_digest_is_sent_at_the_persons_hour_in_their_time_zone(busy_member):
    prefer(busy_member, time_zone="America/New_York", digest_hour=9)  # 09:00 EST = 14:00 UTC
    assert reminders.send_digests(now=at_utc(13)) == 0
    assert reminders.send_digests(now=at_utc(14)) == 1
    digest = Notification.objects.get(kind=Kind.DIGEST)
    assert [t["title"] for t in digest.payload["open_tasks"]] == ["Open work"]


def test_digest_runs_twice_but_arrives_once(busy_member):
    prefer(busy_member, digest_hour=8)
    mail.outbox = []
    with_callbacks = reminders.send_digests(now=at_utc(8)) + reminders.send_digests(now=at_utc(9))
    assert with_callbacks == 1
    assert Notification.objects.filter(kind=Kind.DIGEST).count() == 1


def test_digest_comes_again_the_next_day(busy_member):
    prefer(busy_member, digest_hour=8)
    reminders.send_digests(now=at_utc(8))
    assert reminders.send_digests(now=at_utc(8) + timedelta(days=1)) == 1


def test_switched_off_digest_is_not_sent(busy_member):
    prefer(busy_member, digest_enabled=False)
    assert reminders.send_digests(now=at_utc(20)) == 0


def test_nothing_to_say_means_no_digest(member):
    assert reminders.send_digests(now=at_utc(20)) == 0


def test_digest_lists_reviews_waiting_and_what_changed(
    member, reviewer, lead, make_task, django_capture_on_commit_callbacks
):
    prefer(reviewer, channels={Kind.REVIEW_REQUESTED: Channel.DIGEST})
    work = make_task(title="Needs eyes", requires_review=True)
    tasks.assign_to(task=work, assignee=member, by=lead)
    tasks.start(task=work, by=member)
    tasks.submit(task=work, by=member)
    mail.outbox = []
    now = timezone.now().replace(hour=23)
    with django_capture_on_commit_callbacks(execute=True):
        reminders.send_digests(now=now)
    digest = Notification.objects.get(kind=Kind.DIGEST, recipient=reviewer)
    assert [t["title"] for t in digest.payload["reviews"]] == ["Needs eyes"]
    assert digest.payload["changes"][0]["kind"] == "Review requested"
    [email] = [m for m in mail.outbox if m.to == [reviewer.email]]
    assert "Needs eyes" in email.body
    assert email.subject.startswith("[Relay] Your digest for")
