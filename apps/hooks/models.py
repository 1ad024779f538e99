"""Outgoing webhooks: the URLs a team registered, and one delivery per hook per event.

A `Delivery` is an outbox row: written in the same transaction as the change it reports (a
rolled-back change reports nothing, a committed one is never lost) and sent afterwards by
Celery. Its `delivery_id` is the same on every attempt and every redelivery, so a receiver
that sees one twice (at-least-once) can tell.
"""

import json
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Event(models.TextChoices):
    TASK_TRANSITIONED = "task.transitioned", _("A task moved (any lifecycle transition)")
    RUN_STARTED = "run.started", _("A workflow run started")
    RUN_FINISHED = "run.finished", _("A run finished (completed, failed or cancelled)")
    RUN_LOOPED_BACK = "run.looped_back", _("A run was sent back to an earlier step")
    STEP_WAITING = "step.waiting", _("A step is waiting for an external system")


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class Webhook(models.Model):
    team = models.ForeignKey("people.Team", on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    # Event names (Event values) this hook receives.
    events = models.JSONField(default=list)
    # Kept readable (not hashed): every delivery is signed with it.
    secret = models.CharField(max_length=100, default=new_secret)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team", "created_at", "id"]
        indexes = [models.Index(fields=["team", "is_active"], name="hook_team_active_idx")]

    def __str__(self) -> str:
        return f"{self.url} ({self.team})"

    def wants(self, event: str) -> bool:
        return self.is_active and event in (self.events or [])


class Status(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Delivery(models.Model):
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, choices=Event.choices)
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)
    # A worker owns a delivery while `sending` and `claimed_at` is recent (a lease); one that
    # died mid-send leaves a delivery another worker may take once the lease expires.
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["webhook", "-created_at"], name="hook_delivery_log_idx"),
            # The sweeper's scan: only unsent deliveries.
            models.Index(
                fields=["created_at"],
                name="hook_delivery_unsent_idx",
                condition=Q(status__in=["pending", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id} → {self.webhook_id}"

    @property
    def payload_pretty(self) -> str:
        return json.dumps(self.payload, indent=2, sort_keys=True)

    @property
    def is_unsent(self) -> bool:
        return self.status in (Status.PENDING, Status.SENDING)
