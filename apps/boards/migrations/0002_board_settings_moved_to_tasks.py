"""The WIP limits now live in tasks.WipLimits (copied there by tasks 0003): drop the old table."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("boards", "0001_board_settings_and_saved_views"),
        ("tasks", "0003_wip_limits_from_board_settings"),
    ]

    operations = [
        migrations.DeleteModel(name="BoardSettings"),
    ]
