"""Reads of the health app."""

from datetime import datetime

from .models import Heartbeat


def last_heartbeat(*, source: str = Heartbeat.WORKER) -> datetime | None:
    return Heartbeat.objects.filter(source=source).values_list("at", flat=True).first()
