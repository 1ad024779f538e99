"""GIN indexes for searching tasks on PostgreSQL; nothing on other databases.

They index expressions, not columns: a task's title (weight A) and description (B), and each
comment's body (C), as `english` tsvectors. apps.tasks.search builds the very same
expressions in its queries (a test checks that PostgreSQL uses these indexes), so nothing
needs to be kept up to date by the services that write tasks and comments.

The indexes are not in the models' Meta: SQLite has no GIN, and this migration is a no-op
there.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations

CONFIG = "english"


def _indexes(apps):
    task = apps.get_model("tasks", "Task")
    comment = apps.get_model("tasks", "Comment")
    return [
        (
            task,
            GinIndex(
                SearchVector("title", weight="A", config=CONFIG)
                + SearchVector("description", weight="B", config=CONFIG),
                name="task_search_idx",
            ),
        ),
        (
            comment,
            GinIndex(SearchVector("body", weight="C", config=CONFIG), name="comment_search_idx"),
        ),
    ]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for model, index in _indexes(apps):
        schema_editor.add_index(model, index)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for model, index in _indexes(apps):
        schema_editor.remove_index(model, index)


class Migration(migrations.Migration):
    dependencies = [("tasks", "0005_comment_html_and_task_watches")]

    operations = [migrations.RunPython(create, drop)]
