"""Celery tasks: deliver e-mails and sweep the outbox.

Each is safe to run twice: delivery claims rows before sending, so a redelivered Celery message
or an overlapping beat tick sends nothing twice.
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError, connection

from .services import delivery


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=5)
def deliver(self, ids: list[int]) -> dict[str, int]:
    """E-mail these outbox rows. Failures are recorded per row and retried with backoff
    (delivery._record_failure), so one bad address never holds up the rest of a batch."""
    try:
        return delivery.deliver(ids=ids)
    except (InterfaceError, OperationalError) as error:
        # The worker keeps its database connection between tasks (CELERY_DB_REUSE_MAX); if
        # the database went away, reconnect on the retry. Rows already claimed are picked up
        # by the sweeper once their lease expires.
        connection.close()
        raise self.retry(exc=error, countdown=2**self.request.retries) from error


@shared_task(acks_late=True, ignore_result=True)
def sweep() -> int:
    return delivery.sweep_undelivered()
