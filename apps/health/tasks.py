"""Celery tasks of the health app: the worker heartbeat.

Beat sends `heartbeat` every 30 s (CELERY_BEAT_SCHEDULE); whichever worker takes it stamps the
Heartbeat row. The message expires after one period, so workers back from an outage run the
latest beat, not a backlog of them.
"""

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def heartbeat() -> None:
    services.record_heartbeat()
