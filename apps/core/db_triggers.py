"""What both sets of database triggers (apps.people.version_triggers, apps.insight.summary)
ask of the database about themselves."""


def count_triggers(connection, prefix: str) -> int:
    """How many triggers whose name starts with `prefix` exist (PostgreSQL or SQLite)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT COUNT(*) FROM pg_trigger WHERE tgname LIKE %s", [f"{prefix}%"])
        else:
            cursor.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s",
                [f"{prefix}%"],
            )
        return cursor.fetchone()[0]
