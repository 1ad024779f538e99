"""The one write of the health app: a worker saying it is alive."""

from datetime import datetime

from django.utils import timezone

from .models import Heartbeat


def record_heartbeat(*, source: str = Heartbeat.WORKER, at: datetime | None = None) -> Heartbeat:
    heartbeat, _ = Heartbeat.objects.update_or_create(
        source=source, defaults={"at": at or timezone.now()}
    )
    return heartbeat
