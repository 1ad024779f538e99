"""Celery beat tasks of the insight app; each safe to run twice (the outbox key decides)."""

from celery import shared_task

from . import alerts


@shared_task(acks_late=True, ignore_result=True)
def alert_slow_steps() -> int:
    return alerts.alert_slow_steps()
