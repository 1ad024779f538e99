"""Writing notifications: the outbox.

`notify()` writes rows inside the transaction of the change that causes them, and only once
that transaction commits is a Celery task asked to e-mail them. A rolled-back change therefore
e-mails nobody, and a committed one is never lost: if the broker is down or a worker dies, the
row stays undelivered and the sweeper (`delivery.sweep_undelivered`) enqueues it again.
"""

import logging
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from ..conf import conf
from ..models import Channel, EmailStatus, Kind, Notification, NotificationSettings

logger = logging.getLogger(__name__)


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
    User = get_user_model()
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
    from ..tasks import deliver  # not at the top: the tasks module imports the services

    try:
        deliver.apply_async(args=[list(ids)], countdown=countdown, retry=False)
    except Exception as error:  # kombu raises several unrelated types for "broker down"
        logger.warning("Could not enqueue notifications %s (%s); the sweeper will.", ids, error)
        return False
    return True
