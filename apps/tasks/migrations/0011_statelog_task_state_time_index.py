"""An index on the transition log for the insight pages (apps/insight): a task's first entry
into a state (its first start) is one step down it, and a task's moves (when, from, to) are
read from the index alone. The log is django-fsm-log's table, which this
project does not own, so the index is plain SQL (the same statement on SQLite and PostgreSQL).
"""

from django.db import migrations

INDEX = "statelog_task_state_time_idx"


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0010_board_fingerprint_and_done_window_indexes"),
        ("django_fsm_log", "0005_description_null"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON django_fsm_log_statelog "
            "(content_type_id, object_id, state, timestamp, source_state)",
            f"DROP INDEX IF EXISTS {INDEX}",
        )
    ]
