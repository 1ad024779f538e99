"""The health check's thresholds, with their defaults; settings (env-driven) may override each,
and tests change them with the `settings` fixture, so they are read on every use."""

from django.conf import settings

DEFAULTS = {
    # Seconds the broker may take to accept a connection before it counts as down.
    "RELAY_HEALTH_BROKER_TIMEOUT": 1.0,
    # Seconds without a worker heartbeat (beat sends one every 30 s) before workers count as
    # gone: four missed beats, so one slow beat or a worker restart is not an alarm.
    "RELAY_HEALTH_HEARTBEAT_MAX_AGE": 120.0,
    # Seconds the oldest undelivered notification may wait. Retries with backoff take about
    # 8 minutes before a row is `failed`; past 15 minutes nobody is delivering.
    "RELAY_HEALTH_OUTBOX_MAX_AGE": 900.0,
    # Seconds past RELAY_ACTION_TIMEOUT before an automated step still in progress counts as
    # stranded (the worker's time limit ends a hung action at RELAY_ACTION_TIMEOUT).
    "RELAY_HEALTH_STRANDED_GRACE": 60.0,
    # Seconds any one database query of the check may run (PostgreSQL statement_timeout).
    "RELAY_HEALTH_QUERY_TIMEOUT": 1.0,
}

# How often beat sends the heartbeat task (CELERY_BEAT_SCHEDULE in settings).
HEARTBEAT_EVERY = 30.0


def conf(name: str) -> float:
    return float(getattr(settings, name, DEFAULTS[name]))
