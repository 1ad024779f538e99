"""The triggers that keep the insight summary (models.TaskFlow, models.DayFlow) equal to what
the transition log and the tasks say, for SQLite and PostgreSQL; and the two jobs around
them, `rebuild` (the summary computed again from the log, `manage.py rebuild_insight`) and
`compact` (the day rows folded, daily by beat).

Triggers, not service calls, for the reason apps/people/version_triggers.py gives: tasks and
log rows are written by the transition services, the batch auto-assigner's bulk statements,
the demo seeder's bulk_create (apps.workflows, which this app sits beside, not below), the
admin and COPY. A trigger sees every one of them, in the same transaction as the change.

What a task contributes to DayFlow, under its team and its current assignee: +1 entry into To
do on the day it was created, and for each of its log rows +1 entry into the state entered
and +1 exit from the state left on that row's day. A trigger on the log adds (or, for a
deleted row, takes back) one row's part; a trigger on tasks takes back a task's whole part
under its old team, assignee and creation day and adds it under the new ones when one of them
changes (assign and unassign change the assignee: the load chart counts a task for its current
assignee over its history, as the log does not say who held it before). Every write is an
INSERT of new rows, never an UPDATE of a shared one, so concurrent transitions in a team do
not queue on a counter row or deadlock on two.

Days are in settings.TIME_ZONE, written into the triggers when they are created: after
changing TIME_ZONE, run `manage.py rebuild_insight` (it creates them again and recounts).
"""

from django.conf import settings
from django.db import connection, transaction

from apps.core.db_triggers import count_triggers

LOG = "django_fsm_log_statelog"
TASKS = "tasks_task"
DAYS = "insight_dayflow"
FLOWS = "insight_taskflow"
PREFIX = "insight_sum_"
KIND = "(SELECT id FROM django_content_type WHERE app_label = 'tasks' AND model = 'task')"
STARTED, DONE = "in_progress", "done"
BATCH = 20_000


def _day(value: str, *, vendor: str, zone: str) -> str:
    """SQL for the calendar day of a timestamp in `zone`."""
    if vendor == "postgresql":
        return f"(({value}) AT TIME ZONE '{zone}')::date"
    if zone == "UTC":
        return f"date({value})"
    # Django's own function, registered on each of its SQLite connections.
    return f"django_datetime_cast_date({value}, '{zone}', 'UTC')"


def _insert_days(select: str) -> str:
    return f"INSERT INTO {DAYS} (team_id, day, person_id, state, entries, exits) {select}"


def _task_part(r: str, sign: int, day) -> str:
    """The DayFlow rows of task {r} (OLD or NEW), each count times `sign`."""
    of_log = f"FROM {LOG} l WHERE l.content_type_id = {KIND} AND l.object_id = {r}.id"
    return _insert_days(
        f"SELECT {r}.team_id, {day(f'{r}.created_at')}, {r}.assignee_id, 'todo', {sign}, 0 "
        f"UNION ALL SELECT {r}.team_id, {day('l.timestamp')}, {r}.assignee_id, l.state, "
        f"{sign}, 0 {of_log} "
        f"UNION ALL SELECT {r}.team_id, {day('l.timestamp')}, {r}.assignee_id, l.source_state, "
        f"0, {sign} {of_log}"
    )


def _of_task(column: str, task_id: str) -> str:
    return f"(SELECT {column} FROM {TASKS} WHERE id = {task_id})"


def _log_part(r: str, sign: int, day) -> str:
    """The DayFlow rows of log row {r}: its entry and its exit, under its task's team and
    assignee (nothing for another model's row or a task that is gone). The task is read in
    subqueries, not a FROM: SQLite checks a trigger's FROM tables when a migration renames the
    remade tasks table into place, and the table is missing at that moment."""
    team, person = _of_task("team_id", f"{r}.object_id"), _of_task("assignee_id", f"{r}.object_id")
    where = (
        f"WHERE {r}.content_type_id = {KIND} "
        f"AND EXISTS (SELECT 1 FROM {TASKS} WHERE id = {r}.object_id)"
    )
    return _insert_days(
        f"SELECT {team}, {day(f'{r}.timestamp')}, {person}, {r}.state, {sign}, 0 {where} "
        f"UNION ALL SELECT {team}, {day(f'{r}.timestamp')}, {person}, {r}.source_state, 0, "
        f"{sign} {where}"
    )


def _refresh_flow(task_id: str, guard: str = "1 = 1") -> list[str]:
    """Statements that set task `task_id`'s TaskFlow row from its log rows (or remove it)."""
    return [
        f"DELETE FROM {FLOWS} WHERE task_id = {task_id} AND {guard}",
        f"INSERT INTO {FLOWS} (task_id, team_id, started_at, done_at) "
        f"SELECT {task_id}, {_of_task('team_id', task_id)}, f.started_at, f.done_at FROM "
        f"(SELECT MIN(CASE WHEN l.state = '{STARTED}' THEN l.timestamp END) AS started_at, "
        f"MAX(CASE WHEN l.state = '{DONE}' THEN l.timestamp END) AS done_at FROM {LOG} l "
        f"WHERE l.content_type_id = {KIND} AND l.object_id = {task_id} "
        f"AND l.state IN ('{STARTED}', '{DONE}')) f "
        f"WHERE {guard} AND EXISTS (SELECT 1 FROM {TASKS} WHERE id = {task_id}) "
        "AND (f.started_at IS NOT NULL OR f.done_at IS NOT NULL)",
    ]


def _log_flow(r: str) -> list[str]:
    guard = f"{r}.state IN ('{STARTED}', '{DONE}') AND {r}.content_type_id = {KIND}"
    return _refresh_flow(f"{r}.object_id", guard)


# Which changes of a row the triggers follow (any other column's change leaves the summary).
TASK_COLUMNS = ("team_id", "assignee_id", "created_at")
LOG_COLUMNS = ("content_type_id", "object_id", "state", "source_state", "timestamp")


def _bodies(day) -> dict[str, dict[str, list[str]]]:
    """Per table and event (INSERT, UPDATE, DELETE), the statements of its trigger; an UPDATE
    is the old row's part taken back and the new row's added."""
    task_old = [
        _task_part("OLD", -1, day),
    ]
    task_new = [_task_part("NEW", 1, day), *_refresh_flow("NEW.id")]
    log_old = [_log_part("OLD", -1, day), *_log_flow("OLD")]
    log_new = [_log_part("NEW", 1, day), *_log_flow("NEW")]
    return {
        TASKS: {
            "INSERT": task_new,
            "UPDATE": [*task_old, *task_new],
            "DELETE": [*task_old, f"DELETE FROM {FLOWS} WHERE task_id = OLD.id"],
        },
        LOG: {"INSERT": log_new, "UPDATE": [*log_old, *log_new], "DELETE": log_old},
    }


def _changed(columns: tuple[str, ...], *, vendor: str) -> str:
    op = "IS DISTINCT FROM" if vendor == "postgresql" else "IS NOT"
    return " OR ".join(f"OLD.{c} {op} NEW.{c}" for c in columns)


def create_sql(*, vendor: str, zone: str) -> list[str]:
    def day(value: str) -> str:
        return _day(value, vendor=vendor, zone=zone)

    columns = {TASKS: TASK_COLUMNS, LOG: LOG_COLUMNS}
    statements = []
    for table, events in _bodies(day).items():
        for event, body in events.items():
            name = f"{PREFIX}{table}_{event.lower()}"
            of = f" OF {', '.join(columns[table])}" if event == "UPDATE" else ""
            when = f" WHEN ({_changed(columns[table], vendor=vendor)})" if event == "UPDATE" else ""
            if vendor == "postgresql":
                statements.append(
                    f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    f"BEGIN {'; '.join(body)}; RETURN NULL; END $$"
                )
                statements.append(
                    f"CREATE TRIGGER {name} AFTER {event}{of} ON {table} "
                    f"FOR EACH ROW{when} EXECUTE FUNCTION {name}()"
                )
            else:
                statements.append(
                    f"CREATE TRIGGER {name} AFTER {event}{of} ON {table} FOR EACH ROW{when} "
                    f"BEGIN {'; '.join(body)}; END"
                )
    return statements


def drop_sql(*, vendor: str) -> list[str]:
    statements = []
    for table in (TASKS, LOG):
        for event in ("insert", "update", "delete"):
            name = f"{PREFIX}{table}_{event}"
            if vendor == "postgresql":
                statements.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
                statements.append(f"DROP FUNCTION IF EXISTS {name}()")
            else:
                statements.append(f"DROP TRIGGER IF EXISTS {name}")
    return statements


def present(conn) -> int:
    """How many of the triggers exist."""
    return count_triggers(conn, PREFIX)


def install(schema_editor=None) -> None:
    """(Re)create the triggers for this database and settings.TIME_ZONE."""
    conn = schema_editor.connection if schema_editor else connection
    with conn.cursor() as cursor:
        for sql in drop_sql(vendor=conn.vendor) + create_sql(
            vendor=conn.vendor, zone=settings.TIME_ZONE
        ):
            cursor.execute(sql)


def uninstall(schema_editor=None) -> None:
    conn = schema_editor.connection if schema_editor else connection
    with conn.cursor() as cursor:
        for sql in drop_sql(vendor=conn.vendor):
            cursor.execute(sql)


def _recount_sql(*, vendor: str, zone: str) -> list[str]:
    """The summary of the tasks with lo <= id < hi (%(lo)s, %(hi)s), from the log."""

    def day(value: str) -> str:
        return _day(value, vendor=vendor, zone=zone)

    tasks = "t.id >= %(lo)s AND t.id < %(hi)s"
    joined = f"{TASKS} t JOIN {LOG} l ON l.content_type_id = {KIND} AND l.object_id = t.id"
    return [
        _insert_days(
            f"SELECT t.team_id, {day('t.created_at')}, t.assignee_id, 'todo', COUNT(*), 0 "
            f"FROM {TASKS} t WHERE {tasks} GROUP BY t.team_id, 2, t.assignee_id"
        ),
        _insert_days(
            f"SELECT t.team_id, {day('l.timestamp')}, t.assignee_id, l.state, COUNT(*), 0 "
            f"FROM {joined} WHERE {tasks} GROUP BY t.team_id, 2, t.assignee_id, l.state"
        ),
        _insert_days(
            f"SELECT t.team_id, {day('l.timestamp')}, t.assignee_id, l.source_state, 0, "
            f"COUNT(*) FROM {joined} WHERE {tasks} "
            "GROUP BY t.team_id, 2, t.assignee_id, l.source_state"
        ),
        f"INSERT INTO {FLOWS} (task_id, team_id, started_at, done_at) "
        f"SELECT t.id, t.team_id, MIN(CASE WHEN l.state = '{STARTED}' THEN l.timestamp END), "
        f"MAX(CASE WHEN l.state = '{DONE}' THEN l.timestamp END) FROM {joined} "
        f"WHERE {tasks} AND l.state IN ('{STARTED}', '{DONE}') GROUP BY t.id, t.team_id",
    ]


def rebuild(*, batch: int = BATCH, out=None) -> int:
    """Count the whole summary again from the tasks and the log, `batch` tasks per statement;
    the triggers are created again first (with the current TIME_ZONE). Idempotent: the old
    rows go in the same transaction. Writers of tasks and log rows wait until it commits
    (PostgreSQL: a SHARE lock on both tables), so no change is counted twice or missed.
    Returns how many tasks were counted."""
    vendor = connection.vendor
    with transaction.atomic(), connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {TASKS}, {LOG} IN SHARE MODE")
        install()
        cursor.execute(f"DELETE FROM {DAYS}")
        cursor.execute(f"DELETE FROM {FLOWS}")
        cursor.execute(f"SELECT MIN(id), MAX(id), COUNT(*) FROM {TASKS}")
        low, high, count = cursor.fetchone()
        statements = _recount_sql(vendor=vendor, zone=settings.TIME_ZONE)
        for lo in range(low or 0, (high or -1) + 1, batch):
            for sql in statements:
                cursor.execute(sql, {"lo": lo, "hi": lo + batch})
            if out:
                out(f"  tasks {lo}..{min(lo + batch, high + 1) - 1}")
        compact()
    return count


def compact() -> int:
    """Fold the DayFlow rows of each team's day that has more than one row per person and
    state into one row each (rows summing to nothing go); the sums do not change, so pages
    read the same counts before and after, from fewer rows. Returns the rows removed."""
    doubled = (
        f"SELECT DISTINCT team_id, day FROM {DAYS} WHERE id <= %(top)s "
        "GROUP BY team_id, day, person_id, state HAVING COUNT(*) > 1"
    )
    columns = "team_id, day, person_id, state, entries, exits"
    folded = (
        "SELECT team_id, day, person_id, state, SUM(entries), SUM(exits) FROM {rows} "
        "GROUP BY team_id, day, person_id, state HAVING SUM(entries) <> 0 OR SUM(exits) <> 0"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(id) FROM {DAYS}")
        top = cursor.fetchone()[0]
        if top is None:
            return 0
        if connection.vendor == "postgresql":
            # One statement: the rows deleted are exactly the rows summed, whatever commits
            # meanwhile.
            cursor.execute(
                f"WITH doubled AS ({doubled}), gone AS (DELETE FROM {DAYS} d USING doubled x "
                f"WHERE d.team_id = x.team_id AND d.day = x.day AND d.id <= %(top)s "
                f"RETURNING {', '.join('d.' + c for c in columns.split(', '))}), "
                f"kept AS (INSERT INTO {DAYS} ({columns}) {folded.format(rows='gone')} "
                "RETURNING 1) SELECT (SELECT COUNT(*) FROM gone) - (SELECT COUNT(*) FROM kept)",
                {"top": top},
            )
            return cursor.fetchone()[0]
        chosen = (
            f"{DAYS} WHERE id <= %(top)s AND team_id || ' ' || day IN "
            f"(SELECT team_id || ' ' || day FROM ({doubled}))"
        )
        cursor.execute(
            f"INSERT INTO {DAYS} ({columns}) {folded.format(rows=f'(SELECT * FROM {chosen})')}",
            {"top": top},
        )
        before = cursor.rowcount
        cursor.execute(f"DELETE FROM {chosen}", {"top": top})
        return cursor.rowcount - before
