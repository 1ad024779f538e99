"""Webhook delivery knobs with their defaults; settings (env-driven) may override each, and
tests change them with the `settings` fixture, so they are read on every use."""

from django.conf import settings

DEFAULTS = {
    # Deliveries to loopback, private, link-local, multicast or reserved addresses are refused
    # (SSRF) unless this is set: only for a receiver on the same machine or network on purpose.
    "RELAY_WEBHOOKS_ALLOW_PRIVATE": False,
    "RELAY_WEBHOOKS_MAX_ATTEMPTS": 8,
    "RELAY_WEBHOOKS_RETRY_BACKOFF": 30.0,  # seconds before the 2nd attempt; doubles after
    "RELAY_WEBHOOKS_RETRY_BACKOFF_MAX": 3600.0,
    "RELAY_WEBHOOKS_TIMEOUT": 10.0,  # seconds to connect, and again to read the answer
    "RELAY_WEBHOOKS_CLAIM_LEASE": 120.0,  # a `sending` delivery older than this was abandoned
    "RELAY_WEBHOOKS_SWEEP_GRACE": 60.0,  # a fresh delivery is the on_commit task's to send
    "RELAY_WEBHOOKS_SWEEP_BATCH": 100,
}


def conf(name: str):
    return getattr(settings, name, DEFAULTS[name])
