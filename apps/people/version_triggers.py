"""The triggers that keep TeamVersion and PersonVersion right, for SQLite and PostgreSQL.

Every table whose rows show on a team's pages or in a person's header bumps the counters
of the teams and people its old and new row concern, in the same transaction. Triggers, not
service calls: bulk `update()`, the admin, a data migration and a service written next year
all go through them, and a counter bumped with the change commits (or rolls back) with it —
unlike `max(updated_at)`, which a transaction that started earlier can commit below.

On PostgreSQL the bumps are deferred constraint triggers: they run at commit, after every
other lock of the transaction is taken, so a team's hot counter row is locked for the commit
only (two moves in one team never wait on it while the other holds a task row, and cannot
deadlock on it). Tests that read the counters inside their own open transaction make them
immediate (`SET CONSTRAINTS <names> IMMEDIATE`, tests/conftest.py; `constraint_names`).

Tables are named here as strings (no imports: `notifications` sits below `people`); the
migrations that create the triggers call `create_sql`/`drop_sql` as they stand at that
migration. Changing SOURCES means a new migration that drops and creates them again.
"""

from dataclasses import dataclass

from apps.core.db_triggers import count_triggers

TEAMS = "people_teamversion"
PEOPLE = "people_personversion"
PREFIX = "relay_v_"


@dataclass(frozen=True)
class Source:
    """A table and which counters one of its rows ({r} is the row, OLD or NEW) bumps: SQL
    for the team ids and for the person ids, each a list of expressions or one SELECT."""

    table: str
    teams: str = ""
    people: str = ""
    # For an UPDATE, bump only when one of these columns changed (empty: any change).
    columns: tuple[str, ...] = ()


def _of_task(column: str = "task_id") -> str:
    return f"SELECT team_id FROM tasks_task WHERE id = {{r}}.{column}"


_TEAMS_OF_PERSON = "SELECT team_id FROM people_membership WHERE user_id = {r}.user_id"

SOURCES = (
    Source("tasks_task", teams="{r}.team_id", people="{r}.assignee_id, {r}.reviewer_id"),
    Source("tasks_comment", teams=_of_task()),
    Source("tasks_checklistitem", teams=_of_task()),
    Source("tasks_attachment", teams=_of_task()),
    Source("tasks_taskchange", teams=_of_task()),
    Source("tasks_taskwatch", teams=_of_task(), people="{r}.user_id"),
    Source("tasks_wiplimits", teams="{r}.team_id"),
    Source("django_fsm_log_statelog", teams=_of_task("object_id")),
    Source("assignment_assignmentdecision", teams=_of_task()),
    Source("assignment_waitingtask", teams="{r}.team_id"),
    Source("workflows_stepdispatch", teams=_of_task()),
    Source("workflows_run", teams="{r}.team_id"),
    Source("workflows_workflowtemplate", teams="{r}.team_id"),
    Source(
        "workflows_step",
        teams="SELECT team_id FROM workflows_workflowtemplate WHERE id = {r}.template_id",
    ),
    Source("people_team", teams="{r}.id"),
    Source("people_membership", teams="{r}.team_id", people="{r}.user_id"),
    Source(
        "people_user",
        teams="SELECT team_id FROM people_membership WHERE user_id = {r}.id",
        people="{r}.id",
        # Not last_login or the password: what pages show of a person and what decides
        # their work (availability, load) and controls (staff).
        columns=(
            "username",
            "first_name",
            "last_name",
            "email",
            "is_away",
            "capacity",
            "active_count",
            "is_active",
            "is_staff",
        ),
    ),
    Source("people_personskill", teams=_TEAMS_OF_PERSON, people="{r}.user_id"),
    Source("people_timeoff", teams=_TEAMS_OF_PERSON, people="{r}.user_id"),
    # A skill's name shows on cards of any team (rare: an admin's edit).
    Source("people_skill", teams="SELECT team_id FROM people_teamversion"),
    Source("boards_savedview", people="{r}.owner_id"),
    # The unread badge: a new, read or removed notification (not its e-mail bookkeeping).
    Source("notifications_notification", people="{r}.recipient_id", columns=("read_at",)),
)

# A new team or person starts with its counter row (immediate: nothing waits on a new row).
CREATED = (("people_team", TEAMS, "team_id"), ("people_user", PEOPLE, "user_id"))


def _bumps(source: Source, rows: tuple[str, ...]) -> list[str]:
    statements = []
    for counters, key, ids in (
        (TEAMS, "team_id", source.teams),
        (PEOPLE, "user_id", source.people),
    ):
        if ids:
            where = " OR ".join(f"{key} IN ({ids.format(r=row)})" for row in rows)
            statements.append(f"UPDATE {counters} SET n = n + 1 WHERE {where}")
    return statements


def _changed(source: Source, *, sqlite: bool) -> str:
    differs = "IS NOT" if sqlite else "IS DISTINCT FROM"
    return " OR ".join(f"OLD.{c} {differs} NEW.{c}" for c in source.columns)


def _sqlite_create(source: Source) -> list[str]:
    statements = []
    for event, rows in (("INSERT", ("NEW",)), ("UPDATE", ("OLD", "NEW")), ("DELETE", ("OLD",))):
        when = (
            f" WHEN {_changed(source, sqlite=True)}" if event == "UPDATE" and source.columns else ""
        )
        body = "".join(f"{statement}; " for statement in _bumps(source, rows))
        statements.append(
            f"CREATE TRIGGER {PREFIX}{source.table}_{event.lower()} AFTER {event} "
            f"ON {source.table} FOR EACH ROW{when} BEGIN {body}END"
        )
    return statements


def _pg_create(source: Source) -> list[str]:
    name = f"{PREFIX}{source.table}"
    inserted = "; ".join(_bumps(source, ("NEW",)))
    deleted = "; ".join(_bumps(source, ("OLD",)))
    updated = "; ".join(_bumps(source, ("OLD", "NEW")))
    if source.columns:
        updated = f"IF {_changed(source, sqlite=False)} THEN {updated}; END IF"
    return [
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP = 'INSERT' THEN {inserted}; "
        f"ELSIF TG_OP = 'DELETE' THEN {deleted}; "
        f"ELSE {updated}; END IF; RETURN NULL; END $$",
        f"CREATE CONSTRAINT TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {source.table} "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {name}()",
    ]


def create_sql(vendor: str) -> list[str]:
    """Backfill the counter rows, then create every trigger."""
    statements = [
        f"INSERT INTO {TEAMS} (team_id, n) SELECT id, 1 FROM people_team "
        f"WHERE id NOT IN (SELECT team_id FROM {TEAMS})",
        f"INSERT INTO {PEOPLE} (user_id, n) SELECT id, 1 FROM people_user "
        f"WHERE id NOT IN (SELECT user_id FROM {PEOPLE})",
    ]
    for table, counters, key in CREATED:
        name = f"{PREFIX}{table}_created"
        insert = f"INSERT INTO {counters} ({key}, n) VALUES (NEW.id, 1)"
        if vendor == "postgresql":
            statements += [
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"{insert}; RETURN NULL; END $$",
                f"CREATE TRIGGER {name} AFTER INSERT ON {table} FOR EACH ROW "
                f"EXECUTE FUNCTION {name}()",
            ]
        else:
            statements.append(
                f"CREATE TRIGGER {name} AFTER INSERT ON {table} FOR EACH ROW BEGIN {insert}; END"
            )
    for source in SOURCES:
        statements += _pg_create(source) if vendor == "postgresql" else _sqlite_create(source)
    return statements


def drop_sql(vendor: str) -> list[str]:
    statements = []
    for table, _counters, _key in CREATED:
        name = f"{PREFIX}{table}_created"
        if vendor == "postgresql":
            statements += [
                f"DROP TRIGGER IF EXISTS {name} ON {table}",
                f"DROP FUNCTION IF EXISTS {name}()",
            ]
        else:
            statements.append(f"DROP TRIGGER IF EXISTS {name}")
    for source in SOURCES:
        name = f"{PREFIX}{source.table}"
        if vendor == "postgresql":
            statements += [
                f"DROP TRIGGER IF EXISTS {name} ON {source.table}",
                f"DROP FUNCTION IF EXISTS {name}()",
            ]
        else:
            statements += [
                f"DROP TRIGGER IF EXISTS {name}_{event}" for event in ("insert", "update", "delete")
            ]
    return statements


def constraint_names() -> list[str]:
    """The deferred (PostgreSQL) triggers' names, for SET CONSTRAINTS … IMMEDIATE."""
    return [f"{PREFIX}{source.table}" for source in SOURCES]


def run(statements: list[str]):
    """A RunPython body: the statements for this database's vendor."""

    def apply(apps, schema_editor):
        with schema_editor.connection.cursor() as cursor:
            for statement in statements(schema_editor.connection.vendor):
                cursor.execute(statement)

    return apply


def present(connection) -> int:
    """How many of the triggers exist (0 before the migration that creates them)."""
    return count_triggers(connection, PREFIX)


def expected_count(vendor: str) -> int:
    per_source = 1 if vendor == "postgresql" else 3
    return len(CREATED) + per_source * len(SOURCES)


def heal(*, using: str = "default", **kwargs) -> None:
    """After migrate: create the triggers again if any is missing. SQLite drops a table's
    triggers when a migration remakes the table (most ALTERs do), so a later migration of
    tasks_task would otherwise leave its counters silently behind."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    connection = connections[using]
    if ("boards", "0003_version_counter_triggers") not in MigrationRecorder(
        connection
    ).applied_migrations():
        return
    if present(connection) == expected_count(connection.vendor):
        return
    with connection.cursor() as cursor:
        for statement in drop_sql(connection.vendor) + create_sql(connection.vendor):
            cursor.execute(statement)
