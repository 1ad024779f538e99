"""The outbox's delivery and sweeper knobs, with their defaults; settings (env-driven) may
override each, and tests change them with the `settings` fixture, so read them on every use."""

from django.conf import settings

DEFAULTS = {
    "NOTIFICATIONS_MAX_ATTEMPTS": 5,
    "NOTIFICATIONS_RETRY_BACKOFF": 30.0,  # seconds before the 2nd attempt; doubles after
    "NOTIFICATIONS_RETRY_BACKOFF_MAX": 3600.0,
    "NOTIFICATIONS_CLAIM_LEASE": 300.0,  # a `sending` row older than this was abandoned
    "NOTIFICATIONS_SWEEP_GRACE": 60.0,  # a fresh row is the on_commit task's to deliver
    "NOTIFICATIONS_SWEEP_BATCH": 100,
}


def conf(name: str):
    return getattr(settings, name, DEFAULTS[name])
