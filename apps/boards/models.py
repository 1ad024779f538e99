"""The views people save of a board for themselves. (The WIP limits a lead sets on the board
are stored with the tasks, apps.tasks.models.WipLimits: every transition enforces them.)"""

from django.conf import settings
from django.db import models


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
