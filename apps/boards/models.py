"""Board settings a team's lead controls, and the views people save for themselves."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.tasks.models import ACTIVE_STATES

# The states a lead may put a work-in-progress limit on: the active ones (To do and Done are
# queues, not work).
LIMITABLE_STATES = ACTIVE_STATES


class BoardSettings(models.Model):
    """A team's WIP limits: a full column refuses a move (hard) or warns and accepts (soft)."""

    team = models.OneToOneField(
        "people.Team", on_delete=models.CASCADE, related_name="board_settings"
    )
    wip_limits = models.JSONField(
        default=dict, blank=True, help_text=_("Column state → most cards allowed in it.")
    )
    soft_limits = models.BooleanField(
        default=False,
        help_text=_("Soft: moving into a full column warns but goes ahead. Hard: it is refused."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "board settings"

    def __str__(self) -> str:
        return f"Board settings · {self.team}"

    def clean(self) -> None:
        for state, limit in (self.wip_limits or {}).items():
            if state not in LIMITABLE_STATES:
                raise ValidationError(_("WIP limits apply to Assigned, In progress and In review."))
            if not isinstance(limit, int) or limit < 1:
                raise ValidationError(_("A WIP limit is a whole number of cards, at least 1."))

    def limit_for(self, state: str) -> int | None:
        return (self.wip_limits or {}).get(state)


class SavedView(models.Model):
    """A person's bookmarked board: the filters and swimlanes as a query string."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_board_views"
    )
    team = models.ForeignKey("people.Team", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=60)
    query = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "team", "name"], name="one_saved_view_name_per_person_and_team"
            )
        ]

    def __str__(self) -> str:
        return self.name
