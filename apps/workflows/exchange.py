"""Templates as JSON: export, and an import that changes nothing unless everything is right.

Import reads the whole document, collects every problem (shape, unknown team or skill, then
the graph rules of validation.py) and only then writes, in one transaction. Importing a slug
that exists writes a new version when the current one is frozen by runs (copy-on-write).
"""

import json
from http import HTTPStatus
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.core import jsonsafe
from apps.core.forms import DB_INT_MAX
from apps.core.text import single_line
from apps.people.models import Skill, Team, User
from apps.tasks.models import ChecklistItem, Outcome

from . import conditions, fields
from .models import (
    AssignmentPolicy,
    ManualOutcomes,
    Route,
    Step,
    StepKind,
    WorkflowTemplate,
    checklist_line,
)
from .services import WorkflowError, is_frozen, new_version
from .validation import Graph, RouteSpec, StepSpec, validate

FORMAT = "relay.workflow/1"
# A workflow document is a few KB; the limits only keep a wrong or hostile file from costing
# memory, time or a RecursionError (document → steps → step → checklist is 4 levels deep).
MAX_IMPORT_BYTES = 1024 * 1024
MAX_IMPORT_DEPTH = 8
CHECKLIST_ITEM_MAX = ChecklistItem._meta.get_field("text").max_length
DOCUMENT_FIELDS = {
    "format",
    "team",
    "slug",
    "name",
    "description",
    "input_fields",
    "steps",
    "routes",
}
# condition and position are absent in older documents: unconditional, in document order.
ROUTE_FIELDS = {"from", "outcome", "to", "condition", "position"}
CHECKLIST_ITEM_FIELDS = {"text", "required"}
STEP_DEFAULTS: dict[str, Any] = {
    "kind": StepKind.MANUAL.value,
    "manual_outcomes": ManualOutcomes.DONE.value,
    "is_start": False,
    "is_join": False,
    "is_split": False,
    "required_skill": None,
    "min_level": 1,
    "instructions": "",
    "inputs": "",
    "outputs": "",
    "checklist": [],
    "sla_hours": None,
    "assignment_policy": AssignmentPolicy.AUTO.value,
    "action": "",
    # External steps (absent in older documents).
    "system": "",
    "max_iterations": 5,
    # Four-eyes across the run (absent in older documents: the default rule applies).
    "not_done_by": [],
    # Typed outputs (apps.workflows.fields; absent in older documents).
    "output_fields": [],
}
TEXT_FIELDS = ("name", "instructions", "inputs", "outputs", "action", "system")
BOOL_FIELDS = ("is_start", "is_join", "is_split")
CHOICES = {
    "kind": StepKind.values,
    "manual_outcomes": ManualOutcomes.values,
    "assignment_policy": AssignmentPolicy.values,
}


def export_template(template: WorkflowTemplate) -> dict:
    steps = list(template.steps.select_related("required_skill"))
    return {
        "format": FORMAT,
        "team": template.team.slug,
        "slug": template.slug,
        "name": template.name,
        "description": template.description,
        "input_fields": list(template.input_fields or []),
        "steps": [
            {
                "key": s.key,
                "name": s.name,
                "kind": s.kind,
                "manual_outcomes": s.manual_outcomes,
                "is_start": s.is_start,
                "is_join": s.is_join,
                "is_split": s.is_split,
                "required_skill": s.required_skill.slug if s.required_skill else None,
                "min_level": s.min_level,
                "instructions": s.instructions,
                "inputs": s.inputs,
                "outputs": s.outputs,
                "checklist": _export_checklist(s),
                "sla_hours": s.sla_hours,
                "assignment_policy": s.assignment_policy,
                "action": s.action,
                "system": s.system,
                "max_iterations": s.max_iterations,
                "not_done_by": list(s.not_done_by),
                "output_fields": list(s.output_fields or []),
            }
            for s in steps
        ],
        "routes": [
            {
                "from": r.from_step.key,
                "outcome": r.outcome,
                "to": r.to_step.key if r.to_step else None,
                "condition": r.condition,
                "position": r.position,
            }
            for r in template.routes.select_related("from_step", "to_step").order_by(
                "from_step__position", "position", "id"
            )
        ],
    }


def export_json(template: WorkflowTemplate) -> str:
    return json.dumps(export_template(template), indent=2, ensure_ascii=False) + "\n"


def too_large_problem() -> str:
    return (
        f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB: "
        "a workflow document is far smaller; check that it is the right file."
    )


def _show(value: Any) -> str:
    """A value as a problem quotes it: never the whole of a 100,000-character name."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _model_problems(instance, *, where: str, exclude: list[str]) -> list[str]:
    """Every field the model itself forbids (max_length, slug, bounds), as "where: field: why"."""
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        return [
            f"{where}: {name}: {message}"
            for name, messages in error.message_dict.items()
            for message in messages
        ]
    return []


def _read(raw: str | bytes | dict) -> tuple[Any, list[str]]:
    """The document as Python data, or why it can't be read (size first, then depth, syntax)."""
    if isinstance(raw, dict):
        data = raw
    else:
        if len(raw) > MAX_IMPORT_BYTES:
            return None, [too_large_problem()]
        try:
            data = jsonsafe.loads(raw, max_bytes=MAX_IMPORT_BYTES, max_depth=MAX_IMPORT_DEPTH)
        except jsonsafe.UnsafeJSON as error:
            return None, [f"The file {error}"]
    try:
        jsonsafe.check_text(data)
    except jsonsafe.UnsafeJSON as error:
        return None, [f"The file {error}"]
    if not isinstance(data, dict):
        return None, ["The file must hold one JSON object describing a workflow."]
    return data, []


def _step_problems(raw_step: dict, key: str) -> dict[str | None, str]:
    """The types and choices of one step's fields, by field (None: the step as a whole); the
    model's own rules (max_length, slug, bounds) are checked after, on the fields that pass."""
    where = f"Step {_show(key)}"
    problems: dict[str | None, str] = {}
    unknown = set(raw_step) - set(STEP_DEFAULTS) - {"key", "name"}
    if unknown:
        problems[None] = f"{where} has unknown fields {_show(sorted(unknown))}: remove them."
    step = {**STEP_DEFAULTS, **raw_step}
    for name, allowed in CHOICES.items():
        if not isinstance(step[name], str) or step[name] not in allowed:
            problems[name] = (
                f"{where} has {name} {_show(step[name])}: use one of {', '.join(allowed)}."
            )
    for name in TEXT_FIELDS:
        if name in raw_step and not isinstance(raw_step[name], str):
            problems[name] = f"{where}: '{name}' must be text."
    for name in BOOL_FIELDS:
        if not isinstance(step[name], bool):
            problems[name] = f"{where}: '{name}' must be true or false."
    for name, low, high in (("min_level", 1, 5), ("max_iterations", 1, 100)):
        if not _is_whole(step[name]) or not low <= step[name] <= high:
            problems[name] = f"{where}: '{name}' must be a whole number from {low} to {high}."
    sla = step["sla_hours"]
    if sla is not None and (not _is_whole(sla) or not 0 <= sla <= DB_INT_MAX):
        problems["sla_hours"] = (
            f"{where}: 'sla_hours' must be a whole number of hours from 0 to {DB_INT_MAX}, or null."
        )
    if step["required_skill"] is not None and not isinstance(step["required_skill"], str):
        problems["required_skill"] = (
            f"{where}: 'required_skill' must be a skill's slug (text) or null."
        )
    checklist = step["checklist"]
    if not isinstance(checklist, list) or not all(map(_is_checklist_item, checklist)):
        problems["checklist"] = (
            f"{where}: 'checklist' must be a list of texts, or of "
            '{"text": ..., "required": true} for an item that must be ticked.'
        )
    else:
        texts = [_checklist_text(item) for item in checklist]
        too_long = [n for n, text in enumerate(texts, start=1) if len(text) > CHECKLIST_ITEM_MAX]
        if too_long:
            problems["checklist"] = (
                f"{where}: checklist: item {too_long[0]} has {len(texts[too_long[0] - 1]):,} "
                f"characters; keep each item to at most {CHECKLIST_ITEM_MAX}."
            )
    if not isinstance(step["output_fields"], list):
        problems["output_fields"] = (
            f"{where}: 'output_fields' must be a list of {{name, type, …}} objects."
        )
    not_done_by = step["not_done_by"]
    if not isinstance(not_done_by, list) or not all(isinstance(x, str) for x in not_done_by):
        problems["not_done_by"] = f"{where}: 'not_done_by' must be a list of step keys."
    return problems


def _is_checklist_item(item: Any) -> bool:
    """A text (older documents: every item), or {"text": ..., "required": true/false}."""
    if isinstance(item, str):
        return True
    return (
        isinstance(item, dict)
        and set(item) <= CHECKLIST_ITEM_FIELDS
        and isinstance(item.get("text"), str)
        and isinstance(item.get("required", False), bool)
    )


def _checklist_text(item: str | dict) -> str:
    return item if isinstance(item, str) else item["text"]


def _checklist_line(item: str | dict) -> str:
    """A document's checklist item as the step's line ("* text" when required)."""
    if isinstance(item, str):
        return single_line(item)
    return checklist_line(single_line(item["text"]), item.get("required", False))


def _export_checklist(step: Step) -> list[str | dict]:
    """Plain items as texts (as older documents have them), required ones as objects."""
    return [
        {"text": text, "required": True} if required else text
        for text, required in step.checklist_entries
    ]


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse(raw: str | bytes | dict, team: Team | None) -> tuple[dict, list[str]]:
    """Check the document's shape; returns the cleaned definition and every problem found."""
    data, problems = _read(raw)
    if data is None:
        return {}, problems
    if data.get("format", FORMAT) != FORMAT:
        problems.append(f"Unknown format {_show(data.get('format'))}: expected '{FORMAT}'.")
    unknown = set(data) - DOCUMENT_FIELDS
    if unknown:
        problems.append(f"The file has unknown fields {_show(sorted(unknown))}: remove them.")
    clean: dict[str, Any] = {}
    for name in ("slug", "name"):
        if not isinstance(data.get(name), str) or not data[name].strip():
            problems.append(f"'{name}' is missing: give the workflow a {name}.")
        else:
            clean[name] = single_line(data[name])
    description = data.get("description") or ""
    if not isinstance(description, str):
        problems.append("'description' must be text.")
        description = ""
    clean["description"] = description
    if team is None:
        team_slug = data.get("team")
        team = Team.objects.filter(slug=team_slug).first() if isinstance(team_slug, str) else None
        if team is None:
            problems.append(f"Team {_show(team_slug)} does not exist: set 'team' to a team slug.")
    clean["team"] = team
    input_fields = data.get("input_fields") or []
    if not isinstance(input_fields, list):
        problems.append("'input_fields' must be a list of {name, type, …} objects.")
        input_fields = []
    clean["input_fields"] = input_fields
    if "slug" in clean and "name" in clean:
        problems += _model_problems(
            WorkflowTemplate(slug=clean["slug"], name=clean["name"], description=description),
            where="Workflow",
            exclude=["team"],
        )

    steps_in = data.get("steps")
    routes_in = data.get("routes")
    if not isinstance(steps_in, list):
        problems.append("'steps' must be a list of steps.")
        steps_in = []
    if not isinstance(routes_in, list):
        problems.append("'routes' must be a list of routes.")
        routes_in = []

    skill_slugs = {
        s["required_skill"]
        for s in steps_in
        if isinstance(s, dict) and isinstance(s.get("required_skill"), str)
    }
    skills = {s.slug: s for s in Skill.objects.filter(slug__in=skill_slugs)}
    steps: list[dict] = []
    seen_keys: set[str] = set()
    for i, raw_step in enumerate(steps_in, start=1):
        if (
            not isinstance(raw_step, dict)
            or not isinstance(raw_step.get("key"), str)
            or not raw_step["key"].strip()
        ):
            problems.append(f"Step #{i} has no 'key': give every step a short key (text).")
            continue
        key = raw_step["key"].strip()
        if key in seen_keys:
            problems.append(f"Step {_show(key)} appears twice: step keys must be unique.")
        seen_keys.add(key)
        step_problems = _step_problems(raw_step, key)
        problems += step_problems.values()
        # The fields that passed are checked by the model; the others keep a default for that.
        step = {**STEP_DEFAULTS, **raw_step, "key": key}
        step |= {name: STEP_DEFAULTS[name] for name in step_problems if name in STEP_DEFAULTS}
        step["name"] = single_line(step["name"]) if isinstance(step.get("name"), str) else ""
        step["name"] = step["name"] or key
        step["checklist"] = [_checklist_line(item) for item in step["checklist"]]
        if step["required_skill"] is not None and step["required_skill"] not in skills:
            problems.append(
                f"Step {_show(key)} requires skill {_show(step['required_skill'])}, which does "
                "not exist: create the skill first or fix its slug."
            )
        problems += _model_problems(
            _step_instance(step, skills=skills, position=i - 1),
            where=f"Step {_show(key)}",
            exclude=["template", "required_skill", *filter(None, step_problems)],
        )
        steps.append(step)
    clean["steps"] = steps

    routes: list[dict] = []
    for i, raw_route in enumerate(routes_in, start=1):
        if not isinstance(raw_route, dict) or not {"from", "outcome"} <= set(raw_route):
            problems.append(f"Route #{i} needs 'from', 'outcome' and 'to' (null for END).")
            continue
        unknown = set(raw_route) - ROUTE_FIELDS
        if unknown:
            problems.append(f"Route #{i} has unknown fields {_show(sorted(unknown))}: remove them.")
        to = raw_route.get("to")
        if not isinstance(raw_route["from"], str) or not (to is None or isinstance(to, str)):
            problems.append(
                f"Route #{i}: 'from' and 'to' must be step keys (text; 'to' null for END)."
            )
            continue
        if not isinstance(raw_route["outcome"], str) or raw_route["outcome"] not in Outcome.values:
            problems.append(
                f"Route #{i} from {_show(raw_route['from'])} has outcome "
                f"{_show(raw_route['outcome'])}: use one of {', '.join(Outcome.values)}."
            )
            continue
        condition = raw_route.get("condition") or ""
        position = raw_route.get("position", 0)
        if not isinstance(condition, str) or len(condition) > conditions.MAX_SOURCE:
            problems.append(
                f"Route #{i} from {_show(raw_route['from'])}: 'condition' must be text of at "
                f"most {conditions.MAX_SOURCE} characters."
            )
            continue
        if not _is_whole(position) or not 0 <= position <= 1000:
            problems.append(
                f"Route #{i} from {_show(raw_route['from'])}: 'position' must be a whole "
                "number from 0 to 1000."
            )
            continue
        routes.append(
            {
                "from": raw_route["from"],
                "outcome": raw_route["outcome"],
                "to": to,
                "condition": single_line(condition),
                "position": position,
            }
        )
    clean["routes"] = routes

    if problems:
        problems.append("Routes and steps are checked as a workflow once these are fixed.")
    else:
        problems.extend(validate(_graph(clean, skills)))
    return clean, problems


def _step_instance(step: dict, *, skills: dict[str, Skill], position: int) -> Step:
    """The Step a cleaned step becomes (without its template: validated before it exists)."""
    return Step(
        key=step["key"],
        name=step["name"],
        kind=step["kind"],
        manual_outcomes=step["manual_outcomes"],
        is_start=step["is_start"],
        is_join=step["is_join"],
        is_split=step["is_split"],
        required_skill=skills.get(step["required_skill"]) if step["required_skill"] else None,
        min_level=step["min_level"],
        instructions=step["instructions"],
        inputs=step["inputs"],
        outputs=step["outputs"],
        checklist="\n".join(step["checklist"]),
        sla_hours=step["sla_hours"],
        assignment_policy=step["assignment_policy"],
        action=step["action"],
        system=step["system"],
        max_iterations=step["max_iterations"],
        not_done_by=step["not_done_by"],
        output_fields=fields.clean_spec(step["output_fields"])[0],
        position=position,
    )


def _graph(clean: dict, skills: dict[str, Skill]) -> Graph:
    return Graph(
        steps=[
            StepSpec(
                key=s["key"],
                name=s["name"],
                kind=s["kind"],
                manual_outcomes=s["manual_outcomes"],
                is_start=s["is_start"],
                is_join=s["is_join"],
                is_split=s["is_split"],
                skill=s["required_skill"],
                skill_is_review=bool(
                    s["required_skill"] and skills[s["required_skill"]].is_review_skill
                ),
                action=s["action"],
                system=s["system"],
                sla_hours=s["sla_hours"],
                not_done_by=tuple(s["not_done_by"]),
                output_fields=tuple(s["output_fields"]),
            )
            for s in clean["steps"]
        ],
        routes=[
            RouteSpec(
                r["from"], r["outcome"], r["to"], condition=r["condition"], position=r["position"]
            )
            for r in clean["routes"]
        ],
        input_fields=list(clean["input_fields"]),
    )


def check_import(raw: str | bytes | dict, *, team: Team | None = None) -> list[str]:
    """Every problem with a workflow document, without writing anything."""
    return _parse(raw, team)[1]


@transaction.atomic
def import_template(
    raw: str | bytes | dict, *, team: Team | None = None, by: User | None = None
) -> WorkflowTemplate:
    """Create (or version) the template the document describes; WorkflowError lists problems."""
    clean, problems = _parse(raw, team)
    if problems:
        raise WorkflowError(problems, status=HTTPStatus.UNPROCESSABLE_ENTITY)
    existing = (
        WorkflowTemplate.objects.select_for_update()
        .filter(team=clean["team"], slug=clean["slug"], is_current=True)
        .first()
    )
    if existing is None:
        template = WorkflowTemplate.objects.create(
            team=clean["team"], slug=clean["slug"], name=clean["name"]
        )
    else:
        template = new_version(template=existing) if is_frozen(existing) else existing
        template.routes.all().delete()
        template.steps.all().delete()
    template.name = clean["name"]
    template.description = clean["description"]
    template.input_fields = fields.clean_spec(clean["input_fields"])[0]
    template.is_active = True
    template.save()
    skills = {s.slug: s for s in Skill.objects.all()}
    by_key: dict[str, Step] = {}
    for position, s in enumerate(clean["steps"]):
        step = _step_instance(s, skills=skills, position=position)
        step.template = template
        step.save()
        by_key[s["key"]] = step
    Route.objects.bulk_create(
        Route(
            template=template,
            from_step=by_key[r["from"]],
            outcome=r["outcome"],
            to_step=by_key[r["to"]] if r["to"] else None,
            condition=r["condition"],
            position=r["position"],
        )
        for r in clean["routes"]
    )
    return template
