"""Proof that the background machinery is alive, for the health check to read."""

from django.db import models


class Heartbeat(models.Model):
    """The last time a Celery worker ran the beat's heartbeat task.

    One row per source (today only "worker"). The task goes beat → broker → a worker → this
    row, so a fresh row says all three work; a row older than a few beats says one of them
    stopped, or the queue is so far behind that a worker only now reached the last beat.
    A database row rather than a cache key: every web process and worker must read the same
    value, and Relay has no shared cache.
    """

    WORKER = "worker"

    source = models.CharField(max_length=40, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.source} at {self.at:%Y-%m-%d %H:%M:%S}"
