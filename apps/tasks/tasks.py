"""Celery tasks of the tasks app: the hourly overdue reminders and daily digests.

Both are keyed by day, so a redelivered Celery message or an overlapping beat tick changes
nothing.
"""

from celery import shared_task

from . import reminders


@shared_task(acks_late=True, ignore_result=True)
def overdue_reminders() -> int:
    return reminders.send_overdue_reminders()


@shared_task(acks_late=True, ignore_result=True)
def daily_digests() -> int:
    return reminders.send_digests()
