"""WIP limits move from the board (boards.BoardSettings) to the tasks, which enforce them.

A new table, filled from the old one; boards 0002 then drops the old table. Reversible: going
back copies the limits into the board's table again.
"""

import django.db.models.deletion
from django.db import migrations, models


def copy_from_board_settings(apps, schema_editor):
    BoardSettings = apps.get_model("boards", "BoardSettings")
    WipLimits = apps.get_model("tasks", "WipLimits")
    WipLimits.objects.bulk_create(
        WipLimits(team_id=s.team_id, limits=s.wip_limits, soft=s.soft_limits)
        for s in BoardSettings.objects.all()
    )


def copy_to_board_settings(apps, schema_editor):
    BoardSettings = apps.get_model("boards", "BoardSettings")
    WipLimits = apps.get_model("tasks", "WipLimits")
    BoardSettings.objects.bulk_create(
        BoardSettings(team_id=w.team_id, wip_limits=w.limits, soft_limits=w.soft)
        for w in WipLimits.objects.all()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("boards", "0001_board_settings_and_saved_views"),
        ("people", "0001_initial"),
        ("tasks", "0002_task_run_step"),
    ]

    operations = [
        migrations.CreateModel(
            name="WipLimits",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "limits",
                    models.JSONField(
                        blank=True, default=dict, help_text="Column state → most tasks allowed in it."
                    ),
                ),
                (
                    "soft",
                    models.BooleanField(
                        default=False,
                        help_text=(
                            "Soft: moving into a full column warns but goes ahead. "
                            "Hard: it is refused."
                        ),
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "team",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="wip_limits",
                        to="people.team",
                    ),
                ),
            ],
            options={"verbose_name": "WIP limits", "verbose_name_plural": "WIP limits"},
        ),
        migrations.RunPython(copy_from_board_settings, copy_to_board_settings),
    ]
