"""The sweeper picks up what delivery left behind; the admin can retry failed e-mails."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apps.notifications.models import EmailStatus, Kind, Notification
from apps.notifications.services import delivery, emails

pytestmark = pytest.mark.django_db


@pytest.fixture
def old():
    return timezone.now() - timedelta(minutes=10)


def make_row(recipient, key, **fields):
    return Notification.objects.create(recipient=recipient, kind=Kind.ASSIGNED, key=key, **fields)


def test_rows_whose_task_never_reached_the_broker_are_sent_by_the_sweeper(member, old):
    mail.outbox = []
    row = make_row(member, "lost", created_at=old)
    assert delivery.sweep_undelivered() == 1
    row.refresh_from_db()
    assert row.email_status == EmailStatus.SENT
    assert len(mail.outbox) == 1


def test_fresh_rows_are_left_to_their_own_task(member):
    make_row(member, "fresh")
    assert delivery.sweep_undelivered() == 0


def test_rows_of_a_worker_that_died_mid_send_are_sent_after_the_lease(member, old):
    mail.outbox = []
    row = make_row(
        member, "abandoned", created_at=old, email_status=EmailStatus.SENDING, claimed_at=old
    )
    row.attempts = 1
    row.save()
    delivery.sweep_undelivered()
    row.refresh_from_db()
    assert row.email_status == EmailStatus.SENT
    assert row.attempts == 2
    assert mail.outbox[0].extra_headers["Message-ID"] == emails.message_id(key=row.key)


def test_a_row_that_killed_its_worker_every_time_is_marked_failed(member, old, settings):
    row = make_row(
        member,
        "poison",
        created_at=old,
        email_status=EmailStatus.SENDING,
        claimed_at=old,
        attempts=settings.NOTIFICATIONS_MAX_ATTEMPTS,
    )
    delivery.sweep_undelivered()
    row.refresh_from_db()
    assert row.email_status == EmailStatus.FAILED
    assert "stopped while sending" in row.last_error


def test_sweeping_twice_sends_each_row_once(member, old):
    mail.outbox = []
    make_row(member, "a", created_at=old)
    make_row(member, "b", created_at=old)
    delivery.sweep_undelivered()
    delivery.sweep_undelivered()
    assert len(mail.outbox) == 2


def test_admin_retry_action_sends_a_failed_email_again(
    client, member, django_capture_on_commit_callbacks
):
    from apps.people.models import User

    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    row = make_row(member, "failed", email_status=EmailStatus.FAILED, attempts=5, last_error="x")
    client.force_login(admin)
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:notifications_notification_changelist"),
            {"action": "retry", "_selected_action": [row.pk]},
            follow=True,
        )
    assert "queued to be sent again" in response.content.decode()
    row.refresh_from_db()
    assert row.email_status == EmailStatus.SENT
    assert len(mail.outbox) == 1


def test_admin_list_shows_the_last_error(client, member):
    from apps.people.models import User

    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    make_row(member, "f", email_status=EmailStatus.FAILED, last_error="SMTPDataError: (554, x)")
    client.force_login(admin)
    response = client.get(reverse("admin:notifications_notification_changelist"))
    assert "SMTPDataError: (554, x)" in response.content.decode()
