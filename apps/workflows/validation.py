"""The one place that decides whether a workflow can run; admin, import and start_run use it.

It works on a plain description of the graph (`Graph`: steps and routes by key), so a template
in the database and a JSON file being imported are checked by the same rules. Every problem is
a sentence that names the step and says how to fix it.
"""

from collections import defaultdict, deque
from dataclasses import dataclass, field

from django.conf import settings

from . import conditions, fields, subflows
from .models import EscalationPolicy, StepKind, WorkflowTemplate, outcomes_for

END = None


@dataclass(frozen=True)
class StepSpec:
    key: str
    name: str = ""
    kind: str = StepKind.MANUAL
    manual_outcomes: str = "done"
    is_start: bool = False
    is_join: bool = False
    is_split: bool = False
    skill: str | None = None
    skill_is_review: bool = False
    action: str = ""
    # External steps: the system they wait for, and how long (hours) before they fail.
    system: str = ""
    sla_hours: int | None = None
    # Keys of the steps whose doers may not do this one (four-eyes across the run).
    not_done_by: tuple[str, ...] = ()
    # Sub-workflow steps: the template (slug) they run and its inputs ({child input: expression}).
    subworkflow: str = ""
    subworkflow_inputs: dict = field(default_factory=dict)
    # SLA escalation (apps.workflows.escalation).
    escalation: str = EscalationPolicy.OFF
    escalate_every_hours: int = 4
    # Typed outputs recorded when finishing (apps.workflows.fields specs).
    output_fields: tuple = ()

    @property
    def outcomes(self) -> tuple[str, ...]:
        return outcomes_for(kind=self.kind, manual_outcomes=self.manual_outcomes)


@dataclass(frozen=True)
class RouteSpec:
    from_key: str
    outcome: str
    to_key: str | None
    # Set when a stored route points at a step of another template.
    foreign_step: str = ""
    # A condition over inputs and outputs ("" = default route), tried in `position` order.
    condition: str = ""
    position: int = 0


@dataclass
class Graph:
    steps: list[StepSpec] = field(default_factory=list)
    routes: list[RouteSpec] = field(default_factory=list)
    # Whose graph it is: sub-workflow links are checked against the team's other templates.
    team_id: int | None = None
    slug: str = ""
    # The template's typed run inputs (apps.workflows.fields specs).
    input_fields: list = field(default_factory=list)


def registered_actions() -> list[str]:
    return list(getattr(settings, "RELAY_ACTIONS", []))


def graph_of(template: WorkflowTemplate, *, steps=None, routes=None) -> Graph:
    """The stored template as a Graph (two queries); or, given `steps` and `routes` (the
    editor's unsaved rows, routes with their `from_step`/`to_step` set), those."""
    if steps is None:
        steps = list(template.steps.select_related("required_skill"))
    if routes is None:
        routes = template.routes.select_related("from_step__template", "to_step__template")
    return Graph(
        steps=[
            StepSpec(
                key=s.key,
                name=s.name,
                kind=s.kind,
                manual_outcomes=s.manual_outcomes,
                is_start=s.is_start,
                is_join=s.is_join,
                is_split=s.is_split,
                skill=s.required_skill.slug if s.required_skill else None,
                skill_is_review=bool(s.required_skill and s.required_skill.is_review_skill),
                action=s.action,
                system=s.system,
                sla_hours=s.sla_hours,
                not_done_by=tuple(s.not_done_by or ()),
                escalation=s.escalation,
                escalate_every_hours=s.escalate_every_hours,
                output_fields=tuple(s.output_fields or ()),
                subworkflow=s.subworkflow,
                subworkflow_inputs=dict(s.subworkflow_inputs or {}),
            )
            for s in steps
        ],
        input_fields=list(template.input_fields or []),
        team_id=template.team_id,
        slug=template.slug,
        routes=[
            RouteSpec(
                from_key=r.from_step.key,
                outcome=r.outcome,
                to_key=r.to_step.key if r.to_step else END,
                foreign_step=next(
                    (
                        f"{s.key}' of '{s.template.name}"
                        for s in (r.from_step, r.to_step)
                        if s is not None and s.template_id != template.pk
                    ),
                    "",
                ),
                condition=r.condition,
                position=r.position,
            )
            for r in routes
        ],
    )


def validate(graph: Graph) -> list[str]:
    """Every problem that stops this graph from running, in a stable order; [] = valid."""
    problems: list[str] = []
    by_key = {s.key: s for s in graph.steps}
    if not graph.steps:
        return ["The workflow has no steps: add at least a start step routed to END."]

    starts = [s for s in graph.steps if s.is_start]
    if not starts:
        problems.append("No start step: tick 'is start' on the step where runs begin.")
    elif len(starts) > 1:
        names = ", ".join(f"'{s.key}'" for s in starts)
        problems.append(f"Steps {names} are all marked as start: keep exactly one start step.")

    for route in graph.routes:
        if route.foreign_step:
            problems.append(
                f"Step '{route.from_key}' routes '{route.outcome}' to step '{route.foreign_step}', "
                "another workflow: route only to steps of this workflow."
            )
        for key in (route.from_key, route.to_key):
            if key is not END and key not in by_key and not route.foreign_step:
                problems.append(
                    f"A route uses step '{key}', which does not exist: add the step or fix the "
                    "route."
                )

    outgoing: dict[str, list[RouteSpec]] = defaultdict(list)
    for route in graph.routes:
        if route.from_key in by_key and not route.foreign_step:
            outgoing[route.from_key].append(route)

    problems.extend(_field_problems(graph))
    types = condition_types(graph)
    for step in graph.steps:
        problems.extend(_step_problems(step, outgoing[step.key]))
        problems.extend(_condition_problems(step, outgoing[step.key], types))
        problems.extend(_not_done_by_problems(step, by_key))
        problems.extend(_escalation_problems(step))

    incoming: dict[str, set[str]] = defaultdict(set)
    for route in graph.routes:
        if route.to_key in by_key and route.from_key in by_key:
            incoming[route.to_key].add(route.from_key)
    for step in graph.steps:
        if step.is_join and len(incoming[step.key]) < 2:
            problems.append(
                f"Step '{step.key}' is a join but only {len(incoming[step.key])} step(s) lead "
                "into it: route at least two branches into it or untick 'is join'."
            )

    if len(starts) == 1:
        reachable = _reach(starts[0].key, outgoing)
        for step in graph.steps:
            if step.key not in reachable:
                problems.append(
                    f"Step '{step.key}' can't be reached from the start step "
                    f"'{starts[0].key}': route an outcome of an earlier step to it."
                )
    reaches_end = _reaching_end(graph, by_key)
    for step in graph.steps:
        if step.key not in reaches_end:
            problems.append(
                f"Step '{step.key}' never leads to END: route one of its outcomes onward "
                "(to a later step or to END)."
            )
    problems.extend(subflows.link_problems(graph))
    return problems


def _step_problems(step: StepSpec, routes: list[RouteSpec]) -> list[str]:
    problems = []
    allowed = step.outcomes
    by_outcome: dict[str, list[RouteSpec]] = defaultdict(list)
    for route in routes:
        by_outcome[route.outcome].append(route)
    for outcome in allowed:
        found = by_outcome.get(outcome, [])
        if not found:
            problems.append(
                f"Step '{step.key}' has no route for outcome '{outcome}': add one (to a step "
                "or to END)."
            )
            continue
        defaults = [r for r in found if not r.condition.strip()]
        if not defaults:
            problems.append(
                f"Step '{step.key}', outcome '{outcome}': every route has a condition and "
                "none is the default, so a case where no condition holds is unrouted: add a "
                "route without a condition (taken when none holds)."
            )
        elif len(defaults) > 1 and not step.is_split:
            problems.append(
                f"Step '{step.key}' routes outcome '{outcome}' {len(defaults)} times without a "
                "condition: keep one default, give the others conditions, or tick 'is split' "
                "to start the branches in parallel."
            )
        elif len(defaults) > 1 and any(r.to_key is END for r in defaults):
            problems.append(
                f"Step '{step.key}' splits outcome '{outcome}' into END and other steps: "
                "a parallel split must route only to steps."
            )
    for outcome in by_outcome:
        if outcome not in allowed:
            problems.append(
                f"Step '{step.key}' routes outcome '{outcome}', which a {step.kind} step never "
                f"produces (it can end {', '.join(allowed)}): remove that route."
            )
    if step.kind == StepKind.REVIEW and not step.skill_is_review:
        what = f"'{step.skill}' is not a reviewing skill" if step.skill else "it has no skill"
        problems.append(
            f"Review step '{step.key}' must require a reviewing skill (such as ml-review), but "
            f"{what}: pick a reviewing skill."
        )
    if step.kind == StepKind.AUTOMATED and step.action not in registered_actions():
        what = f"'{step.action}' is not registered" if step.action else "it names no action"
        problems.append(
            f"Automated step '{step.key}' needs a registered action, but {what}: pick one of "
            f"{', '.join(registered_actions()) or 'RELAY_ACTIONS (none are set)'}."
        )
    if step.kind == StepKind.EXTERNAL:
        if not step.system.strip():
            problems.append(
                f"External step '{step.key}' must name the system it waits for (e.g. 'CI'): "
                "the board shows the task as waiting for it."
            )
        if not step.sla_hours:
            problems.append(
                f"External step '{step.key}' needs an SLA (sla_hours): it fails with 'no report "
                "within N hours' once they pass, so a silent system never stalls the run."
            )
    return problems


def condition_types(graph: Graph) -> dict[str, str]:
    """The names a route condition may read, with their field types: `inputs.<name>` and
    `<step key>.<output>` (each step's own outputs are added bare by _condition_problems)."""
    specs, _problems = fields.clean_spec(list(graph.input_fields))
    types = fields.types_of(specs, prefix="inputs.")
    for step in graph.steps:
        outputs, _problems = fields.clean_spec(list(step.output_fields))
        types.update(fields.types_of(outputs, prefix=f"{step.key}."))
    return types


def _field_problems(graph: Graph) -> list[str]:
    _specs, found = fields.clean_spec(list(graph.input_fields))
    problems = [f"Run inputs: {problem}" for problem in found]
    for step in graph.steps:
        _specs, found = fields.clean_spec(list(step.output_fields))
        problems.extend(f"Step '{step.key}', outputs: {problem}" for problem in found)
    return problems


def route_label(step: StepSpec, number: int, route: RouteSpec) -> str:
    """How a problem names a route: "Step 'evaluate', route 2 (done → peer-review)"."""
    return f"Step '{step.key}', route {number} ({route.outcome} → {route.to_key or 'END'})"


def _condition_problems(
    step: StepSpec, routes: list[RouteSpec], types: dict[str, str]
) -> list[str]:
    """Each route's condition must parse, name only known inputs/outputs and compare values of
    one type; routes are numbered in the order they are tried."""
    own, _problems = fields.clean_spec(list(step.output_fields))
    known = {**types, **fields.types_of(own)}
    problems = []
    ordered = sorted(routes, key=lambda r: r.position)
    for number, route in enumerate(ordered, start=1):
        if not route.condition.strip():
            continue
        for problem in conditions.problems(route.condition, known):
            problems.append(f"{route_label(step, number, route)}: {problem}")
    return problems


def _not_done_by_problems(step: StepSpec, by_key: dict[str, StepSpec]) -> list[str]:
    problems = []
    for key in step.not_done_by:
        if key == step.key:
            problems.append(
                f"Step '{step.key}' names itself in 'not done by': name the steps whose doers "
                "may not do it, not the step itself."
            )
        elif key not in by_key:
            problems.append(
                f"Step '{step.key}' names step '{key}' in 'not done by', which does not exist: "
                "use the keys of this workflow's steps."
            )
    return problems


# Steps nobody works on (Relay, an outside system or a child run holds their task): there is
# nobody to remind or re-assign, and an external step's SLA already fails it.
UNESCALATED_KINDS = (StepKind.AUTOMATED, StepKind.EXTERNAL, StepKind.SUBWORKFLOW)


def _escalation_problems(step: StepSpec) -> list[str]:
    if step.escalation == EscalationPolicy.OFF:
        return []
    if step.kind in UNESCALATED_KINDS:
        return [
            f"Step '{step.key}' escalates, but its task is nobody's work to remind or "
            f"re-assign (a {step.kind} step's task is held by Relay): set its escalation to off."
        ]
    problems = []
    if not step.sla_hours:
        problems.append(
            f"Step '{step.key}' escalates but has no SLA: set sla_hours (escalation starts when "
            "it runs out) or set its escalation to off."
        )
    if not step.escalate_every_hours or step.escalate_every_hours < 1:
        problems.append(
            f"Step '{step.key}' escalates every {step.escalate_every_hours} hours: give at "
            "least 1 hour between the stages."
        )
    return problems


def _reach(start: str, outgoing: dict[str, list[RouteSpec]]) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for route in outgoing[queue.popleft()]:
            if route.to_key is not END and route.to_key not in seen:
                seen.add(route.to_key)
                queue.append(route.to_key)
    return seen


def _reaching_end(graph: Graph, by_key: dict[str, StepSpec]) -> set[str]:
    """Steps from which some path of routes arrives at END (walked backwards from END)."""
    into: dict[str | None, set[str]] = defaultdict(set)
    for route in graph.routes:
        if route.from_key in by_key and not route.foreign_step:
            into[route.to_key].add(route.from_key)
    seen: set[str] = set()
    queue = deque(into[END])
    seen.update(into[END])
    while queue:
        for key in into[queue.popleft()]:
            if key not in seen:
                seen.add(key)
                queue.append(key)
    return seen
