"""Celery tasks: send webhook deliveries and sweep the ones nobody is sending.

Each is safe to run twice: sending claims a delivery first, so a redelivered Celery message or
an overlapping beat tick never sends one twice at the same time.
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError, connection

from . import sending


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=5)
def deliver(self, ids: list[int]) -> dict[str, int]:
    """Send these deliveries; a failed attempt is recorded on its delivery and retried with
    backoff there (sending._record_failure), so one dead receiver never holds up the rest."""
    try:
        return sending.deliver(ids=ids)
    except (InterfaceError, OperationalError) as error:
        # The database went away: reconnect on the retry. Claimed deliveries are picked up by
        # the sweeper once their lease expires.
        connection.close()
        raise self.retry(exc=error, countdown=2**self.request.retries) from error


@shared_task(acks_late=True, ignore_result=True)
def sweep() -> int:
    return sending.sweep_unsent()
