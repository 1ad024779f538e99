"""A hot query's SQL, built by the ORM once per process and run again with new values.

Building a queryset with a few subqueries costs the ORM a few milliseconds of Python (resolving
and copying expressions, compiling) for a query the database answers in a fraction of one.
On a path that runs on every poll of every open board, that is most of the request. Here the
queryset is built once, with stand-in values (`STAND_IN_ID`, `STAND_IN_TEXT`) where the
request's values go; its SQL and parameters are kept, and each call swaps the stand-ins for
the real values. The ORM stays the only author of the SQL: change the queryset and the kept
SQL follows on the next start.

A stand-in must reach the parameters untouched and appear nowhere else; `ReusableQuery`
checks both when it is built, so a queryset that folded a value into the SQL text fails at
once instead of answering for someone else.
"""

from collections.abc import Callable, Sequence

from django.db import connections
from django.db.models import QuerySet

# Values no real row has: ids are positive, slugs and usernames have no control characters.
STAND_IN_ID = -7_300_000_000_000_001
STAND_IN_TEXT = "\x01relay-stand-in\x01"


class ReusableQuery:
    """`build(**stand_ins)` returns a values_list queryset; `rows(**values)` runs its SQL."""

    def __init__(self, build: Callable[..., QuerySet], **stand_ins):
        self.build = build
        self.stand_ins = stand_ins
        self._compiled: dict[str, tuple[str, list, list[tuple[int, str]]]] = {}

    def _compile(self, using: str):
        queryset = self.build(**self.stand_ins)
        sql, params = queryset.query.get_compiler(using=using).as_sql()
        slots = []
        by_value = {value: name for name, value in self.stand_ins.items()}
        for position, param in enumerate(params):
            if isinstance(param, int | str) and not isinstance(param, bool):
                name = by_value.get(param)
                if name is not None:
                    slots.append((position, name))
        missing = set(self.stand_ins) - {name for _, name in slots}
        if missing or str(STAND_IN_ID) in sql or STAND_IN_TEXT in sql:
            raise ValueError(f"stand-ins {sorted(missing) or 'in the SQL text'}: not reusable")
        return sql, list(params), slots

    def rows(self, *, using: str = "default", **values) -> Sequence[tuple]:
        sql, params = self.sql_and_params(using=using, **values)
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def sql_and_params(self, *, using: str = "default", **values) -> tuple[str, list]:
        """The kept SQL and its parameters with these values, to run inside a larger query."""
        compiled = self._compiled.get(using)
        if compiled is None:
            compiled = self._compiled[using] = self._compile(using)
        sql, params, slots = compiled
        params = list(params)
        for position, name in slots:
            params[position] = values[name]
        return sql, params
