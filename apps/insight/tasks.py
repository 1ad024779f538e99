"""Celery beat tasks of the insight app; each safe to run twice (the outbox key decides)."""

from celery import shared_task

from . import alerts, summary


@shared_task(acks_late=True, ignore_result=True)
def alert_slow_steps() -> int:
    return alerts.alert_slow_steps()


@shared_task(acks_late=True, ignore_result=True)
def compact_summary() -> int:
    """Fold the day's summary rows (apps.insight.summary.compact); the sums do not change."""
    return summary.compact()
