"""Delivering the outbox: claim rows, send their e-mails, mark each; retry, sweep.

Each delivery first *claims* its rows with one conditional UPDATE (pending → sending), so two
workers handed the same id never both send it; the Message-ID is derived from the row's key, so
the one unavoidable duplicate (SMTP accepted the message, the worker died before marking it sent)
is recognisable as the same message by any mail client.

An e-mail costs two statements: the claim, which on PostgreSQL also returns the row with its
recipient and task (UPDATE … RETURNING in a CTE, joined), and the mark. Neither waits for the
WAL flush (see `_ASYNC_COMMIT`).
"""

import logging
import smtplib
import time
import uuid
from datetime import datetime, timedelta
from functools import cache, partial

from django.core.mail import EmailMultiAlternatives, mailers
from django.db import connection, transaction
from django.db.models import BooleanField, F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from ..conf import conf
from ..models import EmailStatus, Notification
from .emails import build_email
from .outbox import enqueue_delivery

logger = logging.getLogger(__name__)

SEND_ERRORS = (smtplib.SMTPException, OSError)  # OSError covers refused and timed-out sockets

# Rows claimed by one statement. A worker that dies mid-batch leaves the unsent rest of its
# chunk claimed until the lease expires (then the sweeper sends them, once); the rest of the
# batch stays pending. One notification per transaction, the common case, is a chunk of one.
CLAIM_CHUNK = 10

# Delivery bookkeeping commits without waiting for PostgreSQL's WAL flush. Each claim and each
# "sent" mark is its own commit (a mark must not wait for the rest of a batch, or a crash would
# resend the whole batch), and waiting for the disk on every one costs more than rendering and
# sending. What this risks is only a database *server* crash forgetting the last few
# milliseconds of marks: those rows are sent again, with the same Message-ID — the duplicate
# this design already allows. `set_config(…, true)` lasts for the statement's own transaction
# only, so the connection (reused by the worker's other tasks) keeps its setting, and no
# SET/RESET round trips are needed.
_ASYNC_COMMIT = "set_config('synchronous_commit', 'off', true) = 'off'"


def _async_commit() -> list:
    """A WHERE condition (always true) that makes this statement's commit asynchronous."""
    if connection.vendor != "postgresql":
        return []
    return [RawSQL(_ASYNC_COMMIT, [], output_field=BooleanField())]


def _claimable(now: datetime) -> Q:
    """Pending and due, or claimed by a worker whose lease expired (it died mid-send), with
    attempts left."""
    due = Q(email_status=EmailStatus.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=1))
    )
    abandoned = Q(
        email_status=EmailStatus.SENDING,
        claimed_at__lt=now - timedelta(seconds=conf("NOTIFICATIONS_CLAIM_LEASE")),
    )
    return (due | abandoned) & Q(attempts__lt=conf("NOTIFICATIONS_MAX_ATTEMPTS"))


def claim(*, ids: list[int], token: str) -> list[Notification]:
    """Take these rows for sending if they are claimable; returns those this worker now owns
    (with recipient and task loaded), in id order.

    One conditional UPDATE decides, re-checked by the database on the newest version of each
    row, so of two workers handed the same id exactly one gets it.
    """
    if not ids:
        return []
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _claim_returning(ids=ids, token=token, now=now)
    claimed = Notification.objects.filter(_claimable(now), pk__in=ids).update(
        email_status=EmailStatus.SENDING,
        claimed_at=now,
        claimed_by=token,
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return []
    return list(
        Notification.objects.filter(pk__in=ids, claimed_by=token, email_status=EmailStatus.SENDING)
        .select_related("recipient", "task")
        .order_by("pk")
    )


@cache
def _claim_sql() -> str:
    """PostgreSQL's claim: `_claimable` as one UPDATE … RETURNING, joined in the same statement
    to the recipient and the task, so the claim is also the read. Written once per process from
    the models' metadata (the ORM spent more Python composing this UPDATE than the database
    spends running it)."""
    q = connection.ops.quote_name
    meta = Notification._meta
    recipient, task = meta.get_field("recipient"), meta.get_field("task")
    users, tasks = recipient.related_model._meta, task.related_model._meta

    def columns(alias: str, model_meta) -> str:
        return ", ".join(f"{alias}.{q(f.column)}" for f in model_meta.concrete_fields)

    return (
        f"WITH claimed AS (UPDATE {q(meta.db_table)} SET email_status = %(sending)s, "
        "claimed_at = %(now)s, claimed_by = %(token)s, attempts = attempts + 1 "
        "WHERE id = ANY(%(ids)s) AND attempts < %(max_attempts)s AND ("
        "(email_status = %(pending)s AND (next_attempt_at IS NULL OR next_attempt_at <= %(due)s))"
        " OR (email_status = %(sending)s AND claimed_at < %(abandoned)s)) "
        f"RETURNING {columns(q(meta.db_table), meta)}) "
        f"SELECT {columns('claimed', meta)}, {columns('u', users)}, {columns('t', tasks)} "
        f"FROM claimed JOIN {q(users.db_table)} u ON u.{q(users.pk.column)} = "
        f"claimed.{q(recipient.column)} LEFT JOIN {q(tasks.db_table)} t "
        f"ON t.{q(tasks.pk.column)} = claimed.{q(task.column)} "
        f"WHERE {_ASYNC_COMMIT} ORDER BY claimed.{q(meta.pk.column)}"
    )


def _claim_returning(*, ids: list[int], token: str, now: datetime) -> list[Notification]:
    params = {
        "ids": list(ids),
        "token": token,
        "now": now,
        "due": now + timedelta(seconds=1),
        "abandoned": now - timedelta(seconds=conf("NOTIFICATIONS_CLAIM_LEASE")),
        "max_attempts": conf("NOTIFICATIONS_MAX_ATTEMPTS"),
        "pending": EmailStatus.PENDING.value,
        "sending": EmailStatus.SENDING.value,
    }
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(), params)
        rows = cursor.fetchall()
    recipient, task = (Notification._meta.get_field(name) for name in ("recipient", "task"))
    return [_from_row(row, recipient.related_model, task.related_model) for row in rows]


def _from_row(row: tuple, user_model, task_model) -> Notification:
    """A Notification with its recipient and task (or None) cached, from one joined row."""
    values = iter(row)
    notification = _instance(Notification, values)
    person = _instance(user_model, values)
    task = _instance(task_model, values)
    Notification._meta.get_field("recipient").set_cached_value(notification, person)
    Notification._meta.get_field("task").set_cached_value(
        notification, task if task.pk is not None else None
    )
    return notification


def _instance(model, values):
    """The next len(concrete_fields) values, converted as the ORM converts them, as a model."""
    attnames, converters = _converters(model)
    converted = []
    # Converters first: zip stops on them without taking the next model's first value.
    for (column, field_converters), value in zip(converters, values, strict=False):
        for converter in field_converters:
            value = converter(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, attnames, converted)


@cache
def _converters(model) -> tuple[list[str], list[tuple]]:
    fields = model._meta.concrete_fields
    converters = []
    for field in fields:
        column = field.get_col(model._meta.db_table)
        converters.append(
            (column, connection.ops.get_db_converters(column) + field.get_db_converters(connection))
        )
    return [f.attname for f in fields], converters


def _mark(*, notification: Notification, **fields) -> int:
    """Update a row this worker still owns (claimed by its token and still sending)."""
    return Notification.objects.filter(
        *_async_commit(),
        pk=notification.pk,
        email_status=EmailStatus.SENDING,
        claimed_by=notification.claimed_by,
    ).update(**fields)


@cache
def _mark_sent_sql() -> str:
    """PostgreSQL's "sent" mark, the statement every e-mail ends with, written once."""
    table = connection.ops.quote_name(Notification._meta.db_table)
    return (
        f"UPDATE {table} SET email_status = %s, sent_at = %s, last_error = '' "
        f"WHERE id = %s AND email_status = %s AND claimed_by = %s AND {_ASYNC_COMMIT}"
    )


def _mark_sent(*, notification: Notification) -> None:
    now = timezone.now()
    if connection.vendor != "postgresql":
        _mark(notification=notification, email_status=EmailStatus.SENT, sent_at=now, last_error="")
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _mark_sent_sql(),
            [
                EmailStatus.SENT.value,
                now,
                notification.pk,
                EmailStatus.SENDING.value,
                notification.claimed_by,
            ],
        )


def deliver(*, ids: list[int]) -> dict[str, int]:
    """Claim, render, send and mark the rows in chunks of CLAIM_CHUNK; returns how many were
    sent, retried, failed or skipped (already sent, not due, or another worker's)."""
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    token = uuid.uuid4().hex
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), CLAIM_CHUNK):
        chunk = wanted[start : start + CLAIM_CHUNK]
        claimed = claim(ids=chunk, token=token)
        counts["skipped"] += len(chunk) - len(claimed)
        for notification in claimed:
            counts[_deliver_claimed(notification=notification)] += 1
    return counts


def _deliver_claimed(*, notification: Notification) -> str:
    person = notification.recipient
    if not person.email or not person.is_active:  # changed since it was written
        _mark(notification=notification, email_status=EmailStatus.SKIPPED)
        return "skipped"
    try:
        _send(build_email(notification=notification))
    except Exception as error:  # any failure is recorded on the row, not lost
        return _record_failure(notification=notification, error=error)
    _mark_sent(notification=notification)
    return "sent"


def deliver_one(*, notification_id: int) -> str:
    """Deliver one row; says what happened ("sent", "retry", "failed" or "skipped")."""
    counts = deliver(ids=[notification_id])
    return next(outcome for outcome, n in counts.items() if n)


def _record_failure(*, notification: Notification, error: Exception) -> str:
    text = f"{type(error).__name__}: {error}"[:2000]
    if not isinstance(error, SEND_ERRORS):
        logger.exception("Notification %s could not be built", notification.pk)
    if notification.attempts >= conf("NOTIFICATIONS_MAX_ATTEMPTS"):
        _mark(
            notification=notification,
            email_status=EmailStatus.FAILED,
            last_error=text,
            claimed_at=None,
        )
        return "failed"
    delay = min(
        conf("NOTIFICATIONS_RETRY_BACKOFF") * 2 ** (notification.attempts - 1),
        conf("NOTIFICATIONS_RETRY_BACKOFF_MAX"),
    )
    _mark(
        notification=notification,
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
