"""Typed fields: a workflow step's outputs and a template's run inputs, as JSON specs.

    {"name": "accuracy", "type": "number", "label": "Accuracy", "required": true}
    {"name": "threshold", "type": "number", "label": "Threshold", "default": 0.9}

One module for both, because the same value travels from one to the other: a step's output
and a run's input are compared by the same conditions (apps.workflows.conditions), a
sub-workflow's inputs are mapped from its parent's outputs, and the finishing form, the start
form, the API and an external report all clean what they receive with `clean_values`. Every
problem is a sentence naming the field.
"""

import math
import re
from urllib.parse import urlsplit

from django import forms

NUMBER, TEXT, BOOLEAN, URL, CHOICE = "number", "text", "boolean", "url", "choice"
FIELD_TYPES = (NUMBER, TEXT, BOOLEAN, URL, CHOICE)
TYPE_LABELS = {
    NUMBER: "a number",
    TEXT: "text",
    BOOLEAN: "yes/no",
    URL: "a link",
    CHOICE: "one of a list",
}
NAME = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
TEXT_MAX = 2000
URL_MAX = 500
MAX_FIELDS = 30
MAX_CHOICES = 50
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", ""}


def clean_spec(raw) -> tuple[list[dict], list[str]]:
    """The declared fields as normalised specs, and every problem with them ([] = fine).

    A spec keeps name, type, label, required, choices (choice fields) and default (when
    given); a default is cleaned like a value of the field."""
    if raw in (None, ""):
        return [], []
    if not isinstance(raw, list):
        return [], ["Fields must be a list of {name, type, …} objects."]
    if len(raw) > MAX_FIELDS:
        return [], [f"At most {MAX_FIELDS} fields are allowed, not {len(raw)}."]
    specs: list[dict] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            problems.append(f"Field {number} must be an object with a name and a type.")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            problems.append(
                f"Field {number} has the name {_quote(name)}: use lower-case letters, digits "
                "and _ (starting with a letter, at most 50), e.g. accuracy."
            )
            continue
        if name in seen:
            problems.append(f"Field '{name}' is declared twice: keep one.")
            continue
        seen.add(name)
        kind = item.get("type", TEXT)
        if kind not in FIELD_TYPES:
            problems.append(
                f"Field '{name}' has the type {_quote(kind)}: use one of {', '.join(FIELD_TYPES)}."
            )
            continue
        label = item.get("label") or name.replace("_", " ").capitalize()
        if not isinstance(label, str) or len(label) > 120:
            problems.append(f"Field '{name}': its label must be text of at most 120 characters.")
            continue
        required = item.get("required", False)
        if not isinstance(required, bool):
            problems.append(f"Field '{name}': 'required' must be true or false.")
            continue
        spec = {"name": name, "type": kind, "label": label, "required": required}
        if kind == CHOICE:
            choices = item.get("choices")
            if (
                not isinstance(choices, list)
                or not choices
                or len(choices) > MAX_CHOICES
                or not all(isinstance(c, str) and c.strip() and len(c) <= 120 for c in choices)
                or len(set(choices)) != len(choices)
            ):
                problems.append(
                    f"Field '{name}' is a choice: give 'choices', a list of 1 to {MAX_CHOICES} "
                    "different texts."
                )
                continue
            spec["choices"] = list(choices)
        if item.get("default") is not None:
            value, problem = _clean_one(spec, item["default"])
            if problem:
                problems.append(f"Field '{name}': its default is refused. {problem}")
                continue
            spec["default"] = value
        specs.append(spec)
    return specs, problems


def clean_values(specs: list[dict], raw: dict | None) -> tuple[dict, list[str]]:
    """The values for these fields from `raw` (form strings or JSON values), defaults filled,
    and every problem ([] = fine): a missing required value, a mistyped one, an unknown name."""
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        return {}, ["The values must be an object of {name: value}."]
    values: dict = {}
    problems: list[str] = []
    names = {spec["name"] for spec in specs}
    for name in raw:
        if name not in names:
            problems.append(
                f"'{str(name)[:50]}' is not one of the fields here"
                + (f" ({', '.join(sorted(names))})." if names else " (there are none).")
            )
    for spec in specs:
        name = spec["name"]
        given = raw.get(name)
        if _is_blank(given, spec):
            if "default" in spec:
                values[name] = spec["default"]
            elif spec["required"]:
                problems.append(f"{spec['label']} ({name}) is required: fill it in.")
            continue
        value, problem = _clean_one(spec, given)
        if problem:
            problems.append(f"{spec['label']} ({name}): {problem}")
        else:
            values[name] = value
    return values, problems


def _is_blank(value, spec: dict) -> bool:
    if value is None:
        return True
    # A checkbox that is not ticked sends nothing: that is "no", not "missing".
    return isinstance(value, str) and not value.strip() and spec["type"] != BOOLEAN


def _clean_one(spec: dict, value) -> tuple[object, str]:
    """(value, "") or (None, the problem)."""
    kind = spec["type"]
    if kind == NUMBER:
        if isinstance(value, bool):
            return None, "must be a number."
        if isinstance(value, str):
            try:
                value = (
                    float(value.strip())
                    if not re.fullmatch(r"-?\d+", value.strip())
                    else int(value)
                )
            except ValueError:
                return None, f"{_quote(value)} is not a number."
        if not isinstance(value, (int, float)) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            return None, "must be a number."
        if isinstance(value, int) and abs(value) > 10**15:
            return None, "is too large."
        return value, ""
    if kind == BOOLEAN:
        if isinstance(value, bool):
            return value, ""
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE, ""
        return None, "must be yes or no (true/false)."
    if not isinstance(value, str):
        return None, "must be text."
    value = value.strip()
    if "\x00" in value:
        return None, "contains a character that is not allowed."
    if kind == TEXT:
        if len(value) > TEXT_MAX:
            return None, f"must be at most {TEXT_MAX} characters."
        return value, ""
    if kind == URL:
        try:
            parts = urlsplit(value)
            host = parts.hostname
        except ValueError:
            parts, host = None, None
        if (
            parts is None
            or len(value) > URL_MAX
            or parts.scheme not in ("http", "https")
            or not host
            or any(ch.isspace() or ord(ch) < 32 for ch in value)
        ):
            return None, f"must be an http(s) address of at most {URL_MAX} characters."
        return value, ""
    if value not in spec.get("choices", ()):
        return None, f"{_quote(value)} is not one of {', '.join(spec.get('choices', ()))}."
    return value, ""


def _quote(value) -> str:
    return f"'{str(value)[:50]}'"


def types_of(specs: list[dict], prefix: str = "") -> dict[str, str]:
    """{prefix + name: type}: the names a condition may read from these fields."""
    return {f"{prefix}{spec['name']}": spec["type"] for spec in specs}


def form_fields(specs: list[dict], *, initial: dict | None = None) -> dict[str, forms.Field]:
    """A Django form field per spec (its cleaned value still goes through clean_values)."""
    initial = initial or {}
    fields: dict[str, forms.Field] = {}
    for spec in specs:
        kind, name = spec["type"], spec["name"]
        options = {
            "label": spec["label"],
            "required": spec["required"] and "default" not in spec and kind != BOOLEAN,
            "initial": initial.get(name, spec.get("default")),
        }
        if kind == NUMBER:
            field = forms.FloatField(**options)
            field.widget.attrs["step"] = "any"
        elif kind == BOOLEAN:
            options["required"] = False
            field = forms.BooleanField(**options)
        elif kind == URL:
            field = forms.URLField(max_length=URL_MAX, assume_scheme="https", **options)
        elif kind == CHOICE:
            choices = [(c, c) for c in spec["choices"]]
            if not options["required"]:
                choices = [("", "—"), *choices]
            field = forms.ChoiceField(choices=choices, **options)
        else:
            field = forms.CharField(max_length=TEXT_MAX, **options)
        field.help_text = TYPE_LABELS[kind] + ("" if spec["required"] else ", optional")
        fields[name] = field
    return fields
