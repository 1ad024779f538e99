"""Preferences route each kind: e-mailed now, kept for the digest, or inbox only."""

import pytest
from django.core import mail

from apps.notifications.models import Channel, EmailStatus, Kind, Notification
from apps.notifications.services import inbox

pytestmark = pytest.mark.django_db


def prefer(user, **fields):
    channels = fields.pop("channels", {})
    defaults = {"time_zone": "UTC", "digest_hour": 8, "digest_enabled": True}
    return inbox.update_preferences(user=user, channels=channels, **(defaults | fields))


def test_a_kind_chosen_for_the_digest_is_not_emailed_now(send_now, member):
    prefer(member, channels={Kind.ASSIGNED: Channel.DIGEST})
    mail.outbox = []
    [notification] = send_now(recipients=[member])
    assert notification.email_status == EmailStatus.DIGEST
    assert mail.outbox == []


def test_a_kind_switched_off_still_reaches_the_inbox(send_now, member):
    prefer(member, channels={Kind.ASSIGNED: Channel.OFF})
    mail.outbox = []
    [notification] = send_now(recipients=[member])
    assert notification.email_status == EmailStatus.SKIPPED
    assert Notification.objects.filter(recipient=member, read_at=None).count() == 1
    assert mail.outbox == []


def test_other_kinds_keep_their_own_choice(send_now, member):
    prefer(member, channels={Kind.ASSIGNED: Channel.OFF})
    mail.outbox = []
    send_now(kind=Kind.APPROVED, recipients=[member])
    assert len(mail.outbox) == 1
