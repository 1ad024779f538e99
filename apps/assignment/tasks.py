"""Periodic work: retry waiting tasks (time off that ended frees people without any event)."""

from celery import shared_task

from .services.retries import retry_all_waiting


@shared_task(acks_late=True)
def retry_waiting_tasks() -> int:
    """Retry every waiting task; cheap when none are waiting (one query)."""
    return retry_all_waiting()
