"""The notification outbox: one row per person per thing that happened.

Rows are written in the same transaction as the change that causes them, so a rolled-back
change notifies nobody and a committed one is never lost; `key` makes writing one twice a no-op.
Delivery (e-mail through Celery) reads and marks these rows.
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    ASSIGNED = "assigned", _("Assigned to you")
    REVIEW_REQUESTED = "review_requested", _("Review requested")
    APPROVED = "approved", _("Your work was approved")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")
    REJECTED = "rejected", _("Your work was rejected")
    RUN_FAILED = "run_failed", _("Run failed")
    OVERDUE = "overdue", _("Task overdue")
    UNASSIGNABLE = "unassignable", _("Task cannot be assigned")
    MENTIONED = "mentioned", _("You were mentioned")
    COMMENTED = "commented", _("New comment on a task you watch")
    DECIDED = "decided", _("Decision on a task you watch")
    UNASSIGNED = "unassigned", _("Taken off a task")
    RUN_COMPLETED = "run_completed", _("Run completed")
    SLOW_STEP = "slow_step", _("A workflow step is waiting longer than usual")
    ESCALATED = "escalated", _("A task's SLA ran out")
    DIGEST = "digest", _("Daily digest")


class EmailStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Not e-mailed")
    DIGEST = "digest", _("In the daily digest")


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    task = models.ForeignKey(
        "tasks.Task", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    payload = models.JSONField(default=dict, blank=True)
    key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    email_status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The workflow run this is about. A plain id rather than a foreign key so the outbox does
    # not depend on the workflows app's migrations; the run's title travels in `payload`.
    run_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # Delivery bookkeeping: a worker owns a row while `sending` and `claimed_at` is recent
    # (a lease: a worker that died mid-send leaves a row another may take once it expires);
    # a failed attempt sets `next_attempt_at` so neither a retry nor the sweeper comes early.
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=32, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="notif_unread_idx"),
            # The sweeper's scan: only undelivered rows, oldest first.
            models.Index(
                fields=["created_at"],
                name="notif_undelivered_idx",
                condition=models.Q(email_status__in=["pending", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} → {self.recipient}"

    @property
    def is_step_alert(self) -> bool:
        """A run alert about one step (it failed, or its check sent the run back); the run
        itself goes on. Alerts written before `went_back` existed were all loop-backs."""
        return self.kind == Kind.RUN_FAILED and (self.payload or {}).get("run_failed") is False

    @property
    def is_loop_back(self) -> bool:
        """A step alert whose route went back to an earlier step."""
        return self.is_step_alert and (self.payload or {}).get("went_back", True) is not False

    @property
    def went_on(self) -> bool:
        """A step alert for a failure whose route goes forward (support: L1 failed → L2)."""
        return self.is_step_alert and not self.is_loop_back

    @property
    def label(self) -> str:
        if self.is_loop_back:
            return str(_("Run sent back"))
        if self.went_on:
            return str(_("Step failed, run goes on"))
        return self.get_kind_display()


class Channel(models.TextChoices):
    """How a person hears about one kind of notification (the inbox always has it)."""

    IMMEDIATE = "immediate", _("E-mail immediately")
    DIGEST = "digest", _("In the daily digest")
    OFF = "off", _("Inbox only")


# Kinds a person chooses a channel for; the digest itself is switched on or off on its own.
CHOOSABLE_KINDS = [kind for kind in Kind if kind != Kind.DIGEST]


class NotificationSettings(models.Model):
    """One person's choices: when their digest arrives and how each kind reaches them.

    No row means the defaults (every kind e-mailed immediately, a digest at 08:00 in the
    site's time zone), so nobody needs a row until they change something.
    """

    DEFAULT_DIGEST_HOUR = 8

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    time_zone = models.CharField(max_length=64, default=settings.TIME_ZONE)
    digest_hour = models.PositiveSmallIntegerField(
        default=DEFAULT_DIGEST_HOUR,
        validators=[MaxValueValidator(23)],
        help_text=_("Local hour (0-23) at which the daily digest is sent."),
    )
    digest_enabled = models.BooleanField(default=True)
    # {kind: channel}; a kind missing here is e-mailed immediately.
    channels = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "notification settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(digest_hour__lte=23), name="notif_digest_hour_0_23"
            )
        ]

    def __str__(self) -> str:
        return f"Notification settings of {self.user}"

    def channel_for(self, kind: str) -> str:
        return self.channels.get(str(kind), Channel.IMMEDIATE)

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(settings.TIME_ZONE)
