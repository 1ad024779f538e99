"""Delivering the outbox: claim a row, send its e-mail, mark it; retry, sweep.

Each delivery first *claims* its row with one conditional UPDATE (pending → sending), so two
workers handed the same id never both send it; the Message-ID is derived from the row's key, so
the one unavoidable duplicate (SMTP accepted the message, the worker died before marking it sent)
is recognisable as the same message by any mail client.
"""

import logging
import smtplib
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial

from django.core.mail import EmailMultiAlternatives, mailers
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from ..conf import conf
from ..models import EmailStatus, Notification
from .emails import build_email
from .outbox import enqueue_delivery

logger = logging.getLogger(__name__)

SEND_ERRORS = (smtplib.SMTPException, OSError)  # OSError covers refused and timed-out sockets


def claim(*, notification: Notification, token: str) -> bool:
    """Take one row for sending; True if this worker now owns it.

    One conditional UPDATE decides: the row is taken only if it is pending and due, or its
    previous owner's lease expired (a worker that died mid-send), and it has attempts left.
    Rows are claimed one at a time, just before sending, so a worker that dies mid-batch leaves
    only the message in flight claimed; the rest stay pending for the next worker.
    """
    now = timezone.now()
    due = Q(email_status=EmailStatus.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=1))
    )
    abandoned = Q(
        email_status=EmailStatus.SENDING,
        claimed_at__lt=now - timedelta(seconds=conf("NOTIFICATIONS_CLAIM_LEASE")),
    )
    taken = (
        Notification.objects.filter(due | abandoned)
        .filter(pk=notification.pk, attempts__lt=conf("NOTIFICATIONS_MAX_ATTEMPTS"))
        .update(
            email_status=EmailStatus.SENDING,
            claimed_at=now,
            claimed_by=token,
            attempts=F("attempts") + 1,
        )
    )
    if taken:
        notification.email_status = EmailStatus.SENDING
        notification.claimed_at, notification.claimed_by = now, token
        notification.attempts += 1
    return bool(taken)


@contextmanager
def _without_waiting_for_disk():
    """Delivery bookkeeping commits without waiting for PostgreSQL's WAL flush.

    Each claim and each "sent" mark is its own commit (a mark must not wait for the rest of a
    batch, or a crash would resend the whole batch), and waiting for the disk on every one
    costs more than rendering and sending. What this risks is only a database *server* crash
    forgetting the last few milliseconds of marks: those rows are sent again, with the same
    Message-ID — the duplicate this design already allows. Claims and marks stay atomic.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def deliver(*, ids: list[int]) -> dict[str, int]:
    """Claim, render, send and mark each row in turn; returns how many were sent, retried,
    failed or skipped (already sent, not due, or another worker's). One query reads the batch;
    each e-mail then costs a claim and a mark."""
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    token = uuid.uuid4().hex
    with _without_waiting_for_disk():
        candidates = list(
            Notification.objects.filter(
                pk__in=ids, email_status__in=[EmailStatus.PENDING, EmailStatus.SENDING]
            )
            .select_related("recipient", "task")
            .order_by("pk")
        )
        counts["skipped"] = len(set(ids)) - len(candidates)
        for notification in candidates:
            if not claim(notification=notification, token=token):
                counts["skipped"] += 1
                continue
            person = notification.recipient
            if not person.email or not person.is_active:  # changed since it was written
                Notification.objects.filter(pk=notification.pk, claimed_by=token).update(
                    email_status=EmailStatus.SKIPPED
                )
                counts["skipped"] += 1
                continue
            try:
                _send(build_email(notification=notification))
            except Exception as error:  # any failure is recorded on the row, not lost
                counts[_record_failure(notification=notification, error=error)] += 1
                continue
            Notification.objects.filter(
                pk=notification.pk, email_status=EmailStatus.SENDING, claimed_by=token
            ).update(email_status=EmailStatus.SENT, sent_at=timezone.now(), last_error="")
            counts["sent"] += 1
    return counts


def deliver_one(*, notification_id: int) -> str:
    """Deliver one row; says what happened ("sent", "retry", "failed" or "skipped")."""
    counts = deliver(ids=[notification_id])
    return next(outcome for outcome, n in counts.items() if n)


def _record_failure(*, notification: Notification, error: Exception) -> str:
    text = f"{type(error).__name__}: {error}"[:2000]
    if not isinstance(error, SEND_ERRORS):
        logger.exception("Notification %s could not be built", notification.pk)
    if notification.attempts >= conf("NOTIFICATIONS_MAX_ATTEMPTS"):
        Notification.objects.filter(
            pk=notification.pk, claimed_by=notification.claimed_by, email_status=EmailStatus.SENDING
        ).update(email_status=EmailStatus.FAILED, last_error=text, claimed_at=None)
        return "failed"
    delay = min(
        conf("NOTIFICATIONS_RETRY_BACKOFF") * 2 ** (notification.attempts - 1),
        conf("NOTIFICATIONS_RETRY_BACKOFF_MAX"),
    )
    Notification.objects.filter(
        pk=notification.pk, claimed_by=notification.claimed_by, email_status=EmailStatus.SENDING
    ).update(
        email_status=EmailStatus.PENDING,
        last_error=text,
        claimed_at=None,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )
    enqueue_delivery(ids=[notification.pk], countdown=delay)
    return "retry"


class _ReusedMailer:
    """One open connection per worker process: a new SMTP session per e-mail costs more than
    rendering and the database together. Dropped on any error and opened again on next use;
    after a quiet spell it is checked first (NOOP), since servers close idle sessions."""

    IDLE_CHECK_SECONDS = 30

    def __init__(self):
        self.mailer = None
        self.config = None
        self.last_used = 0.0

    def send(self, message: EmailMultiAlternatives) -> None:
        config = repr(mailers.settings.get("default"))
        if self.mailer is not None and (config != self.config or not self._still_open()):
            self.close()
        if self.mailer is None:
            self.mailer, self.config = mailers["default"], config
            self.mailer.open()
        try:
            self.mailer.send_messages([message])
        except BaseException:
            self.close()
            raise
        self.last_used = time.monotonic()

    def _still_open(self) -> bool:
        smtp = getattr(self.mailer, "connection", None)
        if smtp is None or time.monotonic() - self.last_used < self.IDLE_CHECK_SECONDS:
            return True
        try:
            return smtp.noop()[0] == 250
        except SEND_ERRORS:
            return False

    def close(self) -> None:
        if self.mailer is not None:
            try:
                self.mailer.close()
            except Exception:  # closing a broken connection may fail too
                logger.debug("closing the mailer failed", exc_info=True)
        self.mailer = None


_mailer = _ReusedMailer()


def _send(message: EmailMultiAlternatives) -> None:
    _mailer.send(message)


def sweep_undelivered(*, now: datetime | None = None) -> int:
    """Enqueue rows nobody is delivering: their task never reached the broker, or the worker
    that claimed them died. Returns how many were enqueued. Safe to run at any time."""
    now = now or timezone.now()
    max_attempts = conf("NOTIFICATIONS_MAX_ATTEMPTS")
    lease_expired = now - timedelta(seconds=conf("NOTIFICATIONS_CLAIM_LEASE"))
    Notification.objects.filter(
        email_status=EmailStatus.SENDING, claimed_at__lt=lease_expired, attempts__gte=max_attempts
    ).update(
        email_status=EmailStatus.FAILED,
        last_error="The worker stopped while sending, on every attempt.",
    )
    grace = now - timedelta(seconds=conf("NOTIFICATIONS_SWEEP_GRACE"))
    stuck = Notification.objects.filter(
        (
            Q(email_status=EmailStatus.PENDING)
            & (Q(next_attempt_at__isnull=True, created_at__lt=grace) | Q(next_attempt_at__lt=grace))
        )
        | Q(email_status=EmailStatus.SENDING, claimed_at__lt=lease_expired)
    ).filter(attempts__lt=max_attempts)
    ids = list(stuck.order_by("created_at").values_list("pk", flat=True))
    batch = conf("NOTIFICATIONS_SWEEP_BATCH")
    for start in range(0, len(ids), batch):
        if not enqueue_delivery(ids=ids[start : start + batch]):
            break
    return len(ids)


@transaction.atomic
def retry_delivery(*, notifications: QuerySet[Notification]) -> int:
    """Give failed rows a fresh set of attempts (the admin's "retry" action)."""
    ids = list(notifications.filter(email_status=EmailStatus.FAILED).values_list("pk", flat=True))
    Notification.objects.filter(pk__in=ids).update(
        email_status=EmailStatus.PENDING, attempts=0, claimed_at=None, next_attempt_at=None
    )
    if ids:
        transaction.on_commit(partial(enqueue_delivery, ids=ids), robust=True)
    return len(ids)
