"""The insight summary (apps/insight/models.py), its triggers, and the summary of the data
already there counted from the log (apps.insight.summary.rebuild)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def install_and_count(apps, schema_editor):
    from apps.insight import summary

    summary.rebuild()


def uninstall(apps, schema_editor):
    from apps.insight import summary

    summary.uninstall(schema_editor)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('people', '0002_version_counters'),
        ('tasks', '0014_i13_step_created_index'),
        ('django_fsm_log', '0005_description_null'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='DayFlow',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('state', models.CharField(max_length=20)),
                ('entries', models.IntegerField(default=0)),
                ('exits', models.IntegerField(default=0)),
                ('person', models.ForeignKey(db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('team', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='people.team')),
            ],
            options={
                'indexes': [models.Index(fields=['team', 'day'], name='insight_dayflow_day_idx')],
            },
        ),
        migrations.CreateModel(
            name='TaskFlow',
            fields=[
                ('task', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='tasks.task')),
                ('started_at', models.DateTimeField(null=True)),
                ('done_at', models.DateTimeField(null=True)),
                ('team', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='people.team')),
            ],
            options={
                'indexes': [models.Index(fields=['team', 'done_at'], name='insight_taskflow_done_idx')],
            },
        ),
        migrations.RunPython(install_and_count, uninstall, elidable=False),
    ]
