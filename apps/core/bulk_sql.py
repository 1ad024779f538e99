"""Writing thousands of rows in a few statements, on SQLite and PostgreSQL alike.

The ORM's bulk helpers cost more than the database does at this size: `bulk_create` builds a
model instance per row and prepares every value of it field by field, and `bulk_update` writes
one `CASE WHEN id = … THEN …` per field whose cost grows with the square of the batch. These
two functions take rows of database-ready values instead and hand them over in one statement
per table (PostgreSQL: a column of values per array, unnested) or in chunks of multi-row
VALUES (SQLite, under its 32,766 bound parameters). Database constraints still referee
every row (a CheckConstraint on a counter, say): a refused row raises IntegrityError and the
caller's transaction undoes the rest.

No model methods, signals or `save()` run: callers write only what those would have written.
"""

import json

from django.db import connection
from django.db.models import JSONField, Model

# Rows per UPDATE … FROM (VALUES …) statement on SQLite.
VALUES_CHUNK = 2000
# Bound parameters per INSERT on SQLite (its limit is 32,766).
MAX_PARAMS = 30_000


def insert_rows(
    model: type[Model], rows: list[dict], returning: tuple[str, ...] = ()
) -> list[tuple]:
    """INSERT `rows` into `model`'s table without building model instances.

    Every row has the same keys (attnames such as "task_id") with database-ready values: ids,
    strings, datetimes already adapted by `connection.ops.adapt_datetimefield_value`, and JSON
    as Python data. Every other column gets the model's default, so a field added later still
    gets a value. With `returning` (column names, e.g. ("id", "object_id")), returns those
    columns of every inserted row, in no particular order: include a column to match them by.
    """
    if not rows:
        return []
    quote = connection.ops.quote_name
    varying = list(rows[0])
    fields = {f.attname: f for f in model._meta.concrete_fields if not f.primary_key}
    template = model()
    constant = [f for name, f in fields.items() if name not in varying]
    constant_params = [
        f.get_db_prep_save(f.pre_save(template, add=True), connection) for f in constant
    ]
    columns = [fields[name] for name in varying] + constant
    is_json = [isinstance(fields[name], JSONField) for name in varying]
    head = (
        f"INSERT INTO {quote(model._meta.db_table)} "
        f"({', '.join(quote(f.column) for f in columns)}) "
    )
    values = [
        [json.dumps(row[name]) if json_value else row[name] for row in rows]
        for name, json_value in zip(varying, is_json, strict=True)
    ]
    tail = f" RETURNING {', '.join(quote(c) for c in returning)}" if returning else ""
    returned: list[tuple] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(
                f"CAST(%s AS {'text' if j else fields[n].db_type(connection)}[])"
                for n, j in zip(varying, is_json, strict=True)
            )
            picks = [f"v.c{i}::jsonb" if j else f"v.c{i}" for i, j in enumerate(is_json)] + [
                "CAST(%s AS jsonb)" if isinstance(f, JSONField) else "%s" for f in constant
            ]
            names = ", ".join(f"c{i}" for i in range(len(varying)))
            cursor.execute(
                f"{head} SELECT {', '.join(picks)} FROM unnest({arrays}) AS v({names}){tail}",
                [*constant_params, *values],
            )
            return [tuple(r) for r in cursor.fetchall()] if returning else []
        row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
        chunk = max(1, MAX_PARAMS // len(columns))
        for start in range(0, len(rows), chunk):
            params: list = []
            for i in range(start, min(start + chunk, len(rows))):
                params.extend(column[i] for column in values)
                params.extend(constant_params)
            cursor.execute(
                head + "VALUES " + ", ".join([row_sql] * (len(params) // len(columns))) + tail,
                params,
            )
            if returning:
                returned.extend(tuple(r) for r in cursor.fetchall())
    return returned


def update_from_values(
    table: str,
    assignments: str,
    rows: list[tuple],
    casts: list[str],
    params: list,
    where: str = "",
    where_params: tuple = (),
) -> int:
    """UPDATE `table` SET `assignments` FROM (the rows) AS v WHERE id = v.column1 [AND where].

    Each row is a tuple (id, value, …); `assignments` refers to its values as v.column2, … and
    may hold placeholders, filled from `params`; `where` (placeholders from `where_params`)
    narrows the rows further, e.g. to those still in the state a transition leaves from.
    `casts` gives each column's PostgreSQL type (the arrays need one). Joining a list of rows
    costs the same per row however many there are, where bulk_update's CASE per field grows
    with the square of the batch. Returns how many rows were updated.
    """
    quote = connection.ops.quote_name
    where = f"WHERE {quote(table)}.{quote('id')} = v.column1" + (f" AND {where}" if where else "")
    updated = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"CAST(%s AS {c}[])" for c in casts)
            names = ", ".join(f"column{i + 1}" for i in range(len(casts)))
            columns = [list(column) for column in zip(*rows, strict=True)]
            cursor.execute(
                f"UPDATE {quote(table)} SET {assignments} "
                f"FROM unnest({arrays}) AS v({names}) {where}",
                [*params, *columns, *where_params],
            )
            return cursor.rowcount
        row_sql = "(" + ", ".join(["%s"] * len(casts)) + ")"
        for start in range(0, len(rows), VALUES_CHUNK):
            part = rows[start : start + VALUES_CHUNK]
            cursor.execute(
                f"UPDATE {quote(table)} SET {assignments} "
                f"FROM (VALUES {', '.join([row_sql] * len(part))}) AS v {where}",
                [*params, *(value for row in part for value in row), *where_params],
            )
            updated += cursor.rowcount
    return updated
