"""Celery tasks: deliver e-mails, sweep the outbox, send reminders and digests.

Each is safe to run twice: delivery claims rows before sending, and reminders and digests are
keyed by day, so a redelivered Celery message or an overlapping beat tick changes nothing.
"""

from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True)
def deliver(ids: list[int]) -> dict[str, int]:
    """E-mail these outbox rows. Failures are recorded per row and retried with backoff
    (services._record_failure), so one bad address never holds up the rest of a batch."""
    counts: dict[str, int] = {}
    for notification_id in ids:
        outcome = services.deliver_one(notification_id=notification_id)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@shared_task(acks_late=True, ignore_result=True)
def sweep() -> int:
    return services.sweep_undelivered()


@shared_task(acks_late=True, ignore_result=True)
def overdue_reminders() -> int:
    return services.send_overdue_reminders()


@shared_task(acks_late=True, ignore_result=True)
def daily_digests() -> int:
    return services.send_digests()
