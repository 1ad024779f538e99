"""Templates as JSON: export, and an import that changes nothing unless everything is right.

Import reads the whole document, collects every problem (shape, unknown team or skill, then
the graph rules of validation.py) and only then writes, in one transaction. Importing a slug
that exists writes a new version when the current one is frozen by runs (copy-on-write).
"""

import json
from http import HTTPStatus
from typing import Any

from django.db import transaction

from apps.people.models import Skill, Team, User
from apps.tasks.models import Outcome

from .models import AssignmentPolicy, ManualOutcomes, Route, Step, StepKind, WorkflowTemplate
from .services import WorkflowError, is_frozen, new_version
from .validation import Graph, RouteSpec, StepSpec, validate

FORMAT = "relay.workflow/1"
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
    "max_iterations": 5,
    # Four-eyes across the run (absent in older documents: the default rule applies).
    "not_done_by": [],
}
TEXT_FIELDS = ("name", "instructions", "inputs", "outputs", "action")
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
                "checklist": s.checklist_items,
                "sla_hours": s.sla_hours,
                "assignment_policy": s.assignment_policy,
                "action": s.action,
                "max_iterations": s.max_iterations,
                "not_done_by": list(s.not_done_by),
            }
            for s in steps
        ],
        "routes": [
            {
                "from": r.from_step.key,
                "outcome": r.outcome,
                "to": r.to_step.key if r.to_step else None,
            }
            for r in template.routes.select_related("from_step", "to_step").order_by(
                "from_step__position", "id"
            )
        ],
    }


def export_json(template: WorkflowTemplate) -> str:
    return json.dumps(export_template(template), indent=2, ensure_ascii=False) + "\n"


def _parse(raw: str | bytes | dict, team: Team | None) -> tuple[dict, list[str]]:
    """Check the document's shape; returns the cleaned definition and every problem found."""
    problems: list[str] = []
    if isinstance(raw, dict):
        data = raw
    else:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            return {}, [f"The file is not valid JSON: {error}."]
    if not isinstance(data, dict):
        return {}, ["The file must hold one JSON object describing a workflow."]
    if data.get("format", FORMAT) != FORMAT:
        problems.append(f"Unknown format {data.get('format')!r}: expected '{FORMAT}'.")
    clean: dict[str, Any] = {}
    for name in ("slug", "name"):
        if not isinstance(data.get(name), str) or not data[name].strip():
            problems.append(f"'{name}' is missing: give the workflow a {name}.")
        else:
            clean[name] = data[name].strip()
    clean["description"] = str(data.get("description") or "")
    if team is None:
        team = Team.objects.filter(slug=str(data.get("team") or "")).first()
        if team is None:
            problems.append(f"Team {data.get('team')!r} does not exist: set 'team' to a team slug.")
    clean["team"] = team

    steps_in = data.get("steps")
    routes_in = data.get("routes")
    if not isinstance(steps_in, list):
        problems.append("'steps' must be a list of steps.")
        steps_in = []
    if not isinstance(routes_in, list):
        problems.append("'routes' must be a list of routes.")
        routes_in = []

    skill_slugs = {s.get("required_skill") for s in steps_in if isinstance(s, dict)} - {None}
    skills = {s.slug: s for s in Skill.objects.filter(slug__in=[str(x) for x in skill_slugs])}
    steps: list[dict] = []
    seen_keys: set[str] = set()
    for i, raw_step in enumerate(steps_in, start=1):
        if not isinstance(raw_step, dict) or not str(raw_step.get("key") or "").strip():
            problems.append(f"Step #{i} has no 'key': give every step a short key.")
            continue
        step = {**STEP_DEFAULTS, **raw_step}
        key = str(step["key"]).strip()
        step["key"] = key
        step["name"] = step.get("name") or key
        if key in seen_keys:
            problems.append(f"Step '{key}' appears twice: step keys must be unique.")
        seen_keys.add(key)
        unknown = set(raw_step) - set(STEP_DEFAULTS) - {"key", "name"}
        if unknown:
            problems.append(f"Step '{key}' has unknown fields {sorted(unknown)}: remove them.")
        for name, allowed in CHOICES.items():
            if step[name] not in allowed:
                problems.append(
                    f"Step '{key}' has {name} {step[name]!r}: use one of {', '.join(allowed)}."
                )
        for name in TEXT_FIELDS:
            if not isinstance(step[name], str):
                problems.append(f"Step '{key}': '{name}' must be text.")
        for name in BOOL_FIELDS:
            if not isinstance(step[name], bool):
                problems.append(f"Step '{key}': '{name}' must be true or false.")
        for name, low, high in (("min_level", 1, 5), ("max_iterations", 1, 100)):
            if not isinstance(step[name], int) or not low <= step[name] <= high:
                problems.append(
                    f"Step '{key}': '{name}' must be a whole number from {low} to {high}."
                )
        if step["sla_hours"] is not None and (
            not isinstance(step["sla_hours"], int) or step["sla_hours"] < 0
        ):
            problems.append(f"Step '{key}': 'sla_hours' must be a whole number of hours or null.")
        if not isinstance(step["checklist"], list) or not all(
            isinstance(x, str) for x in step["checklist"]
        ):
            problems.append(f"Step '{key}': 'checklist' must be a list of texts.")
            step["checklist"] = []
        if not isinstance(step["not_done_by"], list) or not all(
            isinstance(x, str) for x in step["not_done_by"]
        ):
            problems.append(f"Step '{key}': 'not_done_by' must be a list of step keys.")
            step["not_done_by"] = []
        if step["required_skill"] is not None and step["required_skill"] not in skills:
            problems.append(
                f"Step '{key}' requires skill {step['required_skill']!r}, which does not exist: "
                "create the skill first or fix its slug."
            )
        steps.append(step)
    clean["steps"] = steps

    routes: list[dict] = []
    for i, raw_route in enumerate(routes_in, start=1):
        if not isinstance(raw_route, dict) or not {"from", "outcome"} <= set(raw_route):
            problems.append(f"Route #{i} needs 'from', 'outcome' and 'to' (null for END).")
            continue
        if raw_route["outcome"] not in Outcome.values:
            problems.append(
                f"Route #{i} from '{raw_route['from']}' has outcome {raw_route['outcome']!r}: "
                f"use one of {', '.join(Outcome.values)}."
            )
            continue
        routes.append(
            {
                "from": str(raw_route["from"]),
                "outcome": raw_route["outcome"],
                "to": None if raw_route.get("to") is None else str(raw_route["to"]),
            }
        )
    clean["routes"] = routes

    if problems:
        problems.append("Routes and steps are checked as a workflow once these are fixed.")
    else:
        problems.extend(validate(_graph(clean, skills)))
    return clean, problems


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
                not_done_by=tuple(s["not_done_by"]),
            )
            for s in clean["steps"]
        ],
        routes=[RouteSpec(r["from"], r["outcome"], r["to"]) for r in clean["routes"]],
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
    template.is_active = True
    template.save()
    skills = {s.slug: s for s in Skill.objects.all()}
    by_key: dict[str, Step] = {}
    for position, s in enumerate(clean["steps"]):
        by_key[s["key"]] = Step.objects.create(
            template=template,
            key=s["key"],
            name=s["name"],
            kind=s["kind"],
            manual_outcomes=s["manual_outcomes"],
            is_start=s["is_start"],
            is_join=s["is_join"],
            is_split=s["is_split"],
            required_skill=skills.get(s["required_skill"]) if s["required_skill"] else None,
            min_level=s["min_level"],
            instructions=s["instructions"],
            inputs=s["inputs"],
            outputs=s["outputs"],
            checklist="\n".join(s["checklist"]),
            sla_hours=s["sla_hours"],
            assignment_policy=s["assignment_policy"],
            action=s["action"],
            max_iterations=s["max_iterations"],
            not_done_by=s["not_done_by"],
            position=position,
        )
    Route.objects.bulk_create(
        Route(
            template=template,
            from_step=by_key[r["from"]],
            outcome=r["outcome"],
            to_step=by_key[r["to"]] if r["to"] else None,
        )
        for r in clean["routes"]
    )
    return template
