"""The insight pages' summary of the transition log, kept by database triggers
(apps/insight/summary.py) and rebuilt from the log by `manage.py rebuild_insight`.

Nothing here is written by Python code outside summary.py: the triggers on the log and on
tasks write every row, so the summary is right whoever writes a task or a log row (the
services, the batch auto-assigner, the demo seeder's bulk inserts, the admin, a COPY).
"""

from django.conf import settings
from django.db import models

from apps.people.models import Team
from apps.tasks.models import Task


class TaskFlow(models.Model):
    """One task's first entry into In progress and its entry into Done, from the log: the
    waiting and working times of the workflow page and the team's control chart."""

    # No database constraint and nothing for Django to cascade: the task's delete trigger
    # removes the row, so deleting a task costs no extra query.
    task = models.OneToOneField(
        Task, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    team = models.ForeignKey(
        Team, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    started_at = models.DateTimeField(null=True)
    done_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["team", "done_at"], name="insight_taskflow_done_idx")]

    def __str__(self) -> str:
        return f"task {self.task_id}: started {self.started_at}, done {self.done_at}"


class DayFlow(models.Model):
    """How many of a team's tasks, held by `person` (their current assignee, None for
    nobody), entered and left `state` on `day` (in settings.TIME_ZONE); a task's creation is
    an entry into To do. The rows are deltas, only ever inserted (no row is a hot spot that
    concurrent transitions queue on); summing them gives the counts, and `summary.compact`
    (daily, beat) folds each day's rows into one per team, person and state."""

    team = models.ForeignKey(
        Team, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    day = models.DateField()
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    state = models.CharField(max_length=20)
    entries = models.IntegerField(default=0)
    exits = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["team", "day"], name="insight_dayflow_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.state}: +{self.entries} -{self.exits}"
