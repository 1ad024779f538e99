"""A title with line breaks (CR, LF, a Unicode line separator) still makes a sendable e-mail:
its subject is one line, and the row is marked sent on the first attempt."""

import pytest
from django.core import mail

from apps.notifications.models import EmailStatus

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("title", ["Train\r\nmodel", "Train\rmodel", "Train\u2028model"])
def test_a_title_with_line_breaks_is_emailed_on_one_line(send_now, member, task, title):
    mail.outbox = []
    [notification] = send_now(recipients=[member], task=task, payload={"title": title})
    notification.refresh_from_db()
    assert (notification.email_status, notification.attempts) == (EmailStatus.SENT, 1)
    assert mail.outbox[0].subject == "[Relay] Assigned to you: Train model"
    assert b"Train model" in mail.outbox[0].message().as_bytes()
