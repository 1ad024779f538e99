"""Typed fields for step outputs and run inputs: see apps.core.fields.

The implementation lives in `core` because the tasks layer cleans a finishing task's outputs
(board drags and API transitions meet the same rules as the task page) and may not import this
app; the workflows app (validation, start_run, the forms) reads it under this name.
"""

from apps.core.fields import (
    BOOLEAN,
    CHOICE,
    FIELD_TYPES,
    NUMBER,
    TEXT,
    TYPE_LABELS,
    URL,
    clean_spec,
    clean_values,
    form_fields,
    types_of,
)

__all__ = [
    "BOOLEAN",
    "CHOICE",
    "FIELD_TYPES",
    "NUMBER",
    "TEXT",
    "TYPE_LABELS",
    "URL",
    "clean_spec",
    "clean_values",
    "form_fields",
    "types_of",
]
