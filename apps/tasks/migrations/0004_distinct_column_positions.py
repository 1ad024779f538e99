"""Every task gets a distinct position in its board column, in the order the board shows.

Until now every new task had position 0, so most of a column tied and was ordered by priority
and id; a drop then found no room above the other cards and rewrote the whole column
(apps.tasks.positions). Each (team, state) column is numbered from FIRST_POSITION in the
board's order (position, priority descending, id), so nobody sees a card move.

One UPDATE with a window function, on PostgreSQL and on SQLite 3.33+ alike (UPDATE … FROM);
rows already in place are not rewritten. Going back leaves the positions as they are: they
are valid positions for the old code too.
"""

import sqlite3

from django.db import migrations

# apps.tasks.positions.FIRST_POSITION when this was written (a migration keeps its own copy).
FIRST_POSITION = 1024


def number_columns(apps, schema_editor):
    connection = schema_editor.connection
    Task = apps.get_model("tasks", "Task")
    if connection.vendor == "sqlite" and sqlite3.sqlite_version_info < (3, 33):
        _number_columns_row_by_row(Task)
        return
    qn = connection.ops.quote_name
    table = qn(Task._meta.db_table)
    pk, position = qn("id"), qn("position")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {position} = numbered.n"
            f" FROM (SELECT {pk} AS task_id, %s - 1 + ROW_NUMBER() OVER ("
            f"PARTITION BY {qn('team_id')}, {qn('state')}"
            f" ORDER BY {position}, {qn('priority')} DESC, {pk}) AS n FROM {table}) numbered"
            f" WHERE {table}.{pk} = numbered.task_id AND {table}.{position} <> numbered.n",
            [FIRST_POSITION],
        )


def _number_columns_row_by_row(Task):
    changed, column, n = [], None, 0
    rows = Task.objects.order_by("team_id", "state", "position", "-priority", "id").only(
        "team_id", "state", "position"
    )
    for task in rows.iterator(chunk_size=2000):
        if (task.team_id, task.state) != column:
            column, n = (task.team_id, task.state), FIRST_POSITION
        if task.position != n:
            task.position = n
            changed.append(task)
        n += 1
    Task.objects.bulk_update(changed, ["position"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("tasks", "0003_wip_limits_from_board_settings")]

    operations = [migrations.RunPython(number_columns, migrations.RunPython.noop, elidable=True)]
