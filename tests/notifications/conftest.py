import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend

from apps.notifications.models import Kind
from apps.notifications.services import outbox


class FlakyBackend(LocmemBackend):
    """Locmem, except that addresses containing "tempfail" get an SMTP 451."""

    def send_messages(self, messages):
        for message in messages:
            if any("tempfail" in address for address in message.to):
                raise smtplib.SMTPDataError(451, b"4.3.0 Try again later")
        return super().send_messages(messages)


@pytest.fixture
def flaky_smtp(settings):
    settings.MAILERS = {"default": {"BACKEND": "tests.notifications.conftest.FlakyBackend"}}
    settings.NOTIFICATIONS_RETRY_BACKOFF = 0  # retries in eager mode happen at once
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    mail.outbox = []


@pytest.fixture
def send_now(django_capture_on_commit_callbacks):
    """notify() inside a committed transaction; the on_commit delivery runs (eagerly)."""

    def send(**kwargs):
        kwargs.setdefault("kind", Kind.ASSIGNED)
        kwargs.setdefault("key", "test:event")
        with django_capture_on_commit_callbacks(execute=True):
            return outbox.notify(**kwargs)

    return send
