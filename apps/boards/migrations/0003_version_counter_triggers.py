"""The triggers that bump people.TeamVersion / PersonVersion with every change a team's pages
or a person's header show (apps.people.version_triggers; re-created after every migrate too,
since SQLite drops a table's triggers when a later migration remakes the table)."""

from django.db import migrations

from apps.people.version_triggers import create_sql, drop_sql, run


class Migration(migrations.Migration):
    dependencies = [
        ("boards", "0002_board_settings_moved_to_tasks"),
        ("people", "0002_version_counters"),
        ("tasks", "0010_board_fingerprint_and_done_window_indexes"),
        ("workflows", "0004_step_checklist_required_mark"),
        ("assignment", "0001_decisions_and_waiting_tasks"),
        ("notifications", "0005_slow_step_kind"),
        ("django_fsm_log", "0004_auto_20190131_0341"),
    ]

    operations = [migrations.RunPython(run(create_sql), run(drop_sql))]
