"""A workflow step's tasks created in a period, read through an index (apps.insight.flow)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tasks", "0013_e3_escalation")]

    operations = [
        migrations.AddIndex(
            model_name="task",
            index=models.Index(fields=["step", "created_at"], name="task_step_created_idx"),
        ),
    ]
