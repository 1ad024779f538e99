"""Writing notifications and delivering them.

The outbox pattern: `notify()` writes rows inside the transaction of the change that causes
them, and only once that transaction commits is a Celery task asked to e-mail them. A rolled-back
change therefore e-mails nobody, and a committed one is never lost: if the broker is down or a
worker dies, the row stays undelivered and the sweeper (`sweep_undelivered`) enqueues it again.

Each delivery first *claims* its row with one conditional UPDATE (pending → sending), so two
workers handed the same id never both send it; the Message-ID is derived from the row's key, so
the one unavoidable duplicate (SMTP accepted the message, the worker died before marking it sent)
is recognisable as the same message by any mail client.
"""

import email.policy
import hashlib
import logging
import smtplib
import time
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from email.headerregistry import HeaderRegistry
from email.policy import Policy
from functools import partial
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from apps.people.models import User

from .models import (
    CHOOSABLE_KINDS,
    Channel,
    EmailStatus,
    Kind,
    Notification,
    NotificationSettings,
)

logger = logging.getLogger(__name__)

# Sweeper and retry knobs; settings (env-driven) may override each.
DEFAULTS = {
    "NOTIFICATIONS_MAX_ATTEMPTS": 5,
    "NOTIFICATIONS_RETRY_BACKOFF": 30.0,  # seconds before the 2nd attempt; doubles after
    "NOTIFICATIONS_RETRY_BACKOFF_MAX": 3600.0,
    "NOTIFICATIONS_CLAIM_LEASE": 300.0,  # a `sending` row older than this was abandoned
    "NOTIFICATIONS_SWEEP_GRACE": 60.0,  # a fresh row is the on_commit task's to deliver
    "NOTIFICATIONS_SWEEP_BATCH": 100,
}

SEND_ERRORS = (smtplib.SMTPException, OSError)  # OSError covers refused and timed-out sockets


def conf(name: str):
    return getattr(settings, name, DEFAULTS[name])


# --- writing ------------------------------------------------------------------------------------


def notify(
    *,
    kind: Kind | str,
    recipients: Iterable,
    key: str,
    task=None,
    payload: dict | None = None,
    run=None,
) -> list[Notification]:
    """Write one outbox row per recipient; a repeated call with the same key writes nothing.

    `key` names the event (e.g. "assigned:task:12:log:40"); the recipient is appended, so one
    event reaches each person at most once. Each person's preferences decide whether the row is
    e-mailed now, kept for their digest or left in the inbox only. The e-mails are enqueued when
    the surrounding transaction commits.

    `payload` keys the e-mails and the inbox show (all optional, plain text, escaped in HTML):
    "title" (defaults to the task's), "by" (who did it; "Relay" for automation), "note" (the
    reviewer's or the failure's text), "run" (set from `run` if given), "step", "reasons" (list
    of sentences, e.g. why nobody can take a task) and "url" (a site path such as a run page,
    linked when there is no task).
    """
    people = []
    seen: set[int] = set()
    for person in recipients:
        if person is None or person.pk in seen:
            continue
        seen.add(person.pk)
        people.append(person)
    if not people:
        return []
    payload = dict(payload or {})
    if run is not None:
        payload.setdefault("run", str(getattr(run, "title", run)))
    preferences = {
        s.user_id: s for s in NotificationSettings.objects.filter(user__in=[p.pk for p in people])
    }
    rows = [
        Notification(
            key=f"{key}:to:{person.pk}",
            recipient=person,
            kind=kind,
            task=task,
            run_id=getattr(run, "pk", None),
            payload=payload,
            email_status=_initial_status(
                kind=str(kind), person=person, prefs=preferences.get(person.pk)
            ),
        )
        for person in people
    ]
    try:
        # A new event (the usual case): all rows in one INSERT, in a savepoint so a key that
        # exists already leaves the surrounding change intact.
        with transaction.atomic():
            created = Notification.objects.bulk_create(rows)
    except IntegrityError:
        # Told before (a repeated call) or being told by a concurrent transaction: row by row,
        # get_or_create referees each key and only the new ones count.
        created = []
        for row in rows:
            notification, was_created = Notification.objects.get_or_create(
                key=row.key,
                defaults={
                    "recipient": row.recipient,
                    "kind": row.kind,
                    "task": row.task,
                    "run_id": row.run_id,
                    "payload": row.payload,
                    "email_status": row.email_status,
                },
            )
            if was_created:
                created.append(notification)
    to_send = [n.pk for n in created if n.email_status == EmailStatus.PENDING]
    if to_send:
        _deliver_after_commit(ids=to_send)
    return created


def set_bulk_statuses(*, rows: list[dict]) -> list[dict]:
    """For writers that insert outbox rows in bulk (batch assignment): give each row
    (`recipient_id`, `kind`) the e-mail status its recipient's preferences ask for, in two
    queries whatever the number of rows, exactly as notify() would."""
    recipient_ids = {row["recipient_id"] for row in rows}
    if not recipient_ids:
        return rows
    people = {p.pk: p for p in User.objects.filter(pk__in=recipient_ids).only("email", "is_active")}
    preferences = {
        s.user_id: s for s in NotificationSettings.objects.filter(user_id__in=recipient_ids)
    }
    for row in rows:
        person = people[row["recipient_id"]]
        row["email_status"] = _initial_status(
            kind=str(row["kind"]), person=person, prefs=preferences.get(person.pk)
        )
    return rows


def deliver_bulk_after_commit(*, created_at) -> None:
    """Enqueue, once the transaction commits, the pending rows a bulk writer inserted with
    this exact `created_at` (the sweeper would find them too, a minute later)."""

    def enqueue() -> None:
        ids = list(
            Notification.objects.filter(
                created_at=created_at, email_status=EmailStatus.PENDING
            ).values_list("pk", flat=True)
        )
        batch = conf("NOTIFICATIONS_SWEEP_BATCH")
        for start in range(0, len(ids), batch):
            enqueue_delivery(ids=ids[start : start + batch])

    transaction.on_commit(enqueue, robust=True)


_MUTED: ContextVar[bool] = ContextVar("relay_notifications_muted", default=False)


@contextmanager
def emails_muted():
    """Within this block (including on_commit work that runs before it ends) notifications
    reach the in-app inbox only: used for demo data, whose made-up history is not news."""
    token = _MUTED.set(True)
    try:
        yield
    finally:
        _MUTED.reset(token)


def _initial_status(*, kind: str, person, prefs: NotificationSettings | None) -> str:
    if _MUTED.get():
        return EmailStatus.SKIPPED
    if not person.email or not person.is_active:
        return EmailStatus.SKIPPED
    if kind == Kind.DIGEST:
        return EmailStatus.PENDING
    channel = prefs.channel_for(kind) if prefs else Channel.IMMEDIATE
    return {
        Channel.IMMEDIATE: EmailStatus.PENDING,
        Channel.DIGEST: EmailStatus.DIGEST,
    }.get(channel, EmailStatus.SKIPPED)


def _deliver_after_commit(*, ids: list[int]) -> None:
    """Enqueue these rows when the transaction commits, together with every other row the
    transaction wrote: a batch assignment notifying fifty people sends one Celery message.

    Each call registers its own on_commit callback (so savepoint rollbacks behave as Django
    defines) and all of them drain one buffer: the first to run enqueues everything, the rest
    find it empty. The buffer belongs to the transaction: Django starts a fresh list of
    on_commit callbacks for each one (and after a savepoint rollback), and a fresh list gets a
    fresh buffer. Ids of rows a rolled-back savepoint removed may be enqueued; claiming a row
    that is not there does nothing.
    """
    db = transaction.get_connection()
    owner, buffer = db.__dict__.get("_relay_outbox", (None, None))
    if owner is not db.run_on_commit or buffer is None:
        buffer = []
        db._relay_outbox = (db.run_on_commit, buffer)
    buffer.extend(ids)
    transaction.on_commit(partial(_enqueue_buffered, buffer=buffer), robust=True)


def _enqueue_buffered(*, buffer: list[int]) -> None:
    ids = list(dict.fromkeys(buffer))
    buffer.clear()
    batch = conf("NOTIFICATIONS_SWEEP_BATCH")
    for start in range(0, len(ids), batch):
        enqueue_delivery(ids=ids[start : start + batch])


def enqueue_delivery(*, ids: list[int], countdown: float | None = None) -> bool:
    """Ask a worker to deliver these rows. A broker that is down is logged, not raised: the
    rows are safe in the outbox and the sweeper enqueues them again once it is back."""
    from .tasks import deliver

    try:
        deliver.apply_async(args=[list(ids)], countdown=countdown, retry=False)
    except Exception as error:  # kombu raises several unrelated types for "broker down"
        logger.warning("Could not enqueue notifications %s (%s); the sweeper will.", ids, error)
        return False
    return True


# --- delivering ---------------------------------------------------------------------------------


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


def message_id(*, key: str) -> str:
    """The same key gives the same Message-ID, so a resend is recognisably the same e-mail."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = urlsplit(settings.SITE_URL).hostname or "relay.invalid"
    return f"<{digest}@{domain}>"


SUBJECTS = {
    Kind.ASSIGNED: "Assigned to you: {title}",
    Kind.REVIEW_REQUESTED: "Review requested: {title}",
    Kind.APPROVED: "Approved: {title}",
    Kind.CHANGES_REQUESTED: "Changes requested: {title}",
    Kind.REJECTED: "Rejected: {title}",
    Kind.RUN_FAILED: "Run failed: {run}",
    Kind.OVERDUE: "Overdue: {title}",
    Kind.UNASSIGNABLE: "Nobody can take: {title}",
    Kind.DIGEST: "Your digest for {date}",
}


HEADLINES = {
    Kind.ASSIGNED: "{by} assigned a task to you.",
    Kind.REVIEW_REQUESTED: "{by} asks for your review.",
    Kind.APPROVED: "{by} approved your work.",
    Kind.CHANGES_REQUESTED: "{by} asks for changes to your work.",
    Kind.REJECTED: "{by} rejected your work.",
    Kind.RUN_FAILED: "A workflow run failed and needs attention.",
    Kind.OVERDUE: "A task of yours is past its due time.",
    Kind.UNASSIGNABLE: "Nobody on the team can take this task right now.",
    Kind.DIGEST: "Here is your day in Relay.",
}


LOOP_BACK_SUBJECT = "Run sent back: {run}"
LOOP_BACK_HEADLINE = "A step failed and the run went back to an earlier step."


def email_context(*, notification: Notification) -> dict:
    payload = notification.payload or {}
    task = notification.task
    title = payload.get("title") or (task.title if task else "") or ""
    return {
        "notification": notification,
        "kind": notification.kind,
        "kind_label": notification.label,
        "recipient": notification.recipient,
        "task": task,
        "title": title,
        "by": payload.get("by", ""),
        "note": payload.get("note", ""),
        "run": payload.get("run", ""),
        "step": payload.get("step", ""),
        "reasons": payload.get("reasons", []),
        "payload": payload,
        "headline": (
            LOOP_BACK_HEADLINE
            if notification.is_loop_back
            else HEADLINES.get(notification.kind, "{by}")
        ).format(by=payload.get("by") or "Relay"),
        "task_url": _link(task=task, path=payload.get("url", "")),
        "site_url": settings.SITE_URL,
        "inbox_url": f"{settings.SITE_URL}/notifications/",
        "settings_url": f"{settings.SITE_URL}/notifications/settings/",
    }


def _link(*, task, path: str) -> str:
    """Absolute link for the e-mail's button: the task, or a site path from the payload (a
    run page, say) when the notification is not about one task."""
    if task is not None:
        return f"{settings.SITE_URL}{task.get_absolute_url()}"
    if path.startswith("/") and not path.startswith("//"):
        return f"{settings.SITE_URL}{path}"
    return ""


class _CachedHeaderRegistry(HeaderRegistry):
    """The standard header registry builds a new class on every header lookup, which is a
    third of the cost of serialising an e-mail; the classes never change, so keep them."""

    def __init__(self):
        super().__init__()
        self._classes: dict[str, type] = {}

    def __getitem__(self, name):
        key = name.lower()
        if key not in self._classes:
            self._classes[key] = super().__getitem__(name)
        return self._classes[key]


_FAST_POLICIES: dict[int, tuple[Policy, Policy]] = {}


class RelayEmail(EmailMultiAlternatives):
    """Django's e-mail, serialised with the same policy but a cached header registry."""

    def message(self, *, policy=email.policy.default):
        if id(policy) not in _FAST_POLICIES:
            fast = policy.clone(header_factory=_CachedHeaderRegistry())
            _FAST_POLICIES[id(policy)] = (policy, fast)
        return super().message(policy=_FAST_POLICIES[id(policy)][1])


def build_email(*, notification: Notification) -> EmailMultiAlternatives:
    """Text and HTML versions from templates/emails/; the HTML one autoescapes user text."""
    context = email_context(notification=notification)
    subject = (
        LOOP_BACK_SUBJECT
        if notification.is_loop_back
        else SUBJECTS.get(notification.kind, "{title}")
    ).format(
        title=context["title"] or context["kind_label"],
        run=context["run"] or context["title"],
        date=(notification.payload or {}).get("date", ""),
    )
    template = "digest" if notification.kind == Kind.DIGEST else "notification"
    message = RelayEmail(
        subject=f"[Relay] {subject}"[:200].replace("\n", " "),
        body=render_to_string(f"emails/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient.email],
        headers={
            "Message-ID": message_id(key=notification.key),
            "X-Relay-Notification": notification.key,
        },
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
    return message


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


# --- the inbox ----------------------------------------------------------------------------------


def mark_read(*, notification: Notification) -> None:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )


def mark_all_read(*, user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


# --- preferences --------------------------------------------------------------------------------


def update_preferences(
    *,
    user,
    time_zone: str,
    digest_hour: int,
    digest_enabled: bool,
    channels: dict[str, str],
) -> NotificationSettings:
    """Save a person's choices (the form has validated them)."""
    known = {str(kind) for kind in CHOOSABLE_KINDS}
    prefs, _ = NotificationSettings.objects.update_or_create(
        user=user,
        defaults={
            "time_zone": time_zone,
            "digest_hour": digest_hour,
            "digest_enabled": digest_enabled,
            "channels": {k: v for k, v in channels.items() if k in known},
        },
    )
    return prefs
