"""What PostgreSQL plans to do with a statement: which big tables it would read whole.

Used by bench/scale.py (on a million tasks) and by the plan test (on a few thousand, with the
statistics ANALYZE gives them), so both judge plans the same way.
"""

import json
from dataclasses import dataclass

from django.db import connection

# Statements worth explaining; transaction control and locks are not planned.
PLANNED = ("SELECT", "WITH", "UPDATE", "INSERT", "DELETE")


@dataclass(frozen=True)
class SeqScan:
    table: str
    rows: int  # the table's size, as the statistics say
    sql: str

    def __str__(self) -> str:
        return f"Seq Scan on {self.table} (~{self.rows:,} rows) in: {self.sql[:300]}"


def table_sizes() -> dict[str, int]:
    """Rows per table, as the planner believes (pg_class.reltuples after ANALYZE)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reltuples::bigint FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = current_schema()"
        )
        return dict(cursor.fetchall())


def plan_of(sql: str) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        raw = cursor.fetchone()[0]
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def seq_scans(queries, *, sizes: dict[str, int], above: int) -> list[SeqScan]:
    """The sequential scans of tables with more than `above` rows that these captured
    queries (CaptureQueriesContext.captured_queries) would make."""
    found = []
    for query in queries:
        sql = query["sql"]
        if not sql.lstrip().upper().startswith(PLANNED):
            continue
        for node in _nodes(plan_of(sql)):
            table = node.get("Relation Name")
            if node["Node Type"] == "Seq Scan" and sizes.get(table, 0) > above:
                found.append(SeqScan(table=table, rows=sizes[table], sql=sql))
    return found
