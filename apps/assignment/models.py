"""What the assignment engine decided, and which tasks are waiting for someone to free up."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Mode(models.TextChoices):
    AUTO = "auto", _("Automatic")
    MANUAL = "manual", _("Manual")
    BATCH = "batch", _("Batch")


class AssignmentDecision(models.Model):
    """Who got a task and why: the ranking as it stood at that moment.

    Kept per assignment (a task assigned, unassigned and assigned again has two), so the task
    page can answer "why them?" long after loads have changed.
    """

    task = models.ForeignKey(
        "tasks.Task", on_delete=models.CASCADE, related_name="assignment_decisions"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    mode = models.CharField(max_length=10, choices=Mode.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Who assigned; empty when Relay chose by itself."),
    )
    score = models.FloatField(null=True, blank=True)
    # [{"user_id", "name", "eligible", "score", "load", "level", "reasons"}] best first, ≤ 5.
    ranked = models.JSONField(default=list)
    overrode = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Availability reasons a lead chose to override (never capacity or skill)."),
    )
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["task", "-created_at"], name="decision_task_latest_idx")]

    def __str__(self) -> str:
        return f"{self.task_id} → {self.assignee_id} ({self.mode})"


class WaitingTask(models.Model):
    """A `todo` task nobody could take: why not, and whom it must avoid when retried.

    Removed as soon as the task is assigned or leaves `todo`; retried when capacity frees.
    """

    task = models.OneToOneField("tasks.Task", on_delete=models.CASCADE, related_name="waiting")
    team = models.ForeignKey("people.Team", on_delete=models.CASCADE, related_name="+")
    # services.waiting.reason_record: {"people": [["Ada Lovelace", ["at capacity 3/3"]], …]
    # (the nearest to eligible first, at most KEPT_REASONS), "others": how many people more,
    # "kinds": {"capacity": 4, …} (how many reasons of each kind in all)}
    reasons = models.JSONField(default=dict)
    excluded = models.JSONField(
        default=list, blank=True, help_text=_("People who must not get it (e.g. the author).")
    )
    since = models.DateTimeField(default=timezone.now)
    last_tried_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["since", "id"]

    def __str__(self) -> str:
        return f"waiting: {self.task_id}"
