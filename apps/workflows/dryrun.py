"""The editor's dry run: which way a run would go, given sample inputs and, per step, the
outcome and outputs its doer would record. Nothing is written.

It walks the (possibly unsaved) steps and routes from the start step exactly as the engine
would route (routing.choose, the same rule and the same condition language), through splits and
joins, until END, a step the routes can't leave, or a step reached more often than its
`max_iterations` (where the run would fail). A loop-back with the same sample outcome every time
therefore stops at the loop limit, and says so.
"""

from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field

from django import forms

from . import fields
from .conditions import ConditionError
from .routing import choose, flatten

END = "end"
# However the routes are drawn, a dry run visits at most this many steps.
MAX_VISITS = 100


@dataclass
class Visit:
    """One arrival at a step: what it finished with and where that sent the run."""

    step: object
    iteration: int
    outcome: str
    to: list = field(default_factory=list)  # step names, or "END"
    condition: str = ""
    failed_checks: list = field(default_factory=list)


@dataclass
class DryRun:
    visits: list = field(default_factory=list)
    steps: set = field(default_factory=set)  # ids of the steps visited
    edges: set = field(default_factory=set)  # (from id, to id | END) arrows followed
    ended: bool = False
    stop: str = ""  # why it stopped short of END ("" = it reached END)


def walk(*, steps: list, routes: list, inputs: dict, outcomes: dict, outputs: dict) -> DryRun:
    """The path a run would take (see the module docstring). `outcomes` and `outputs` are by
    step key; a step without a sample outcome finishes with its first one."""
    result = DryRun()
    start = next((s for s in steps if s.is_start), None)
    if start is None:
        result.stop = "There is no start step, so no run can start."
        return result
    by_pk = {s.pk: s for s in steps}
    out: dict = defaultdict(list)
    incoming: dict = defaultdict(set)
    for route in routes:
        out[route.from_step_id].append(route)
        if route.to_step_id:
            incoming[route.to_step_id].add(route.from_step_id)
    context = flatten("inputs.", inputs)
    counts: Counter = Counter()
    arrived: dict = defaultdict(set)
    queue = deque([start])
    while queue:
        step = queue.popleft()
        counts[step.pk] += 1
        if counts[step.pk] > step.max_iterations:
            result.stop = (
                f"Step '{step.key}' would be reached a {_nth(counts[step.pk])} time, more than "
                f"its limit of {step.max_iterations}: the run fails here."
            )
            break
        if len(result.visits) >= MAX_VISITS:
            result.stop = f"Stopped after {MAX_VISITS} steps."
            break
        result.steps.add(step.pk)
        outcome = outcomes.get(step.key)
        if outcome not in step.outcomes:
            outcome = step.outcomes[0]
        own = outputs.get(step.key, {})
        context.update(flatten(f"{step.key}.", own))
        visit = Visit(step=step, iteration=counts[step.pk], outcome=outcome)
        result.visits.append(visit)
        try:
            choice = choose(out[step.pk], outcome=outcome, context={**context, **flatten("", own)})
        except ConditionError as error:
            result.stop = f"Step '{step.key}' ({outcome}): {error.message}"
            break
        if not choice.routes:
            result.stop = (
                f"Step '{step.key}' has no route for outcome '{outcome}': the run fails here."
            )
            break
        visit.condition, visit.failed_checks = choice.condition, choice.failed_checks
        for route in choice.routes:
            target = by_pk.get(route.to_step_id)
            result.edges.add((step.pk, route.to_step_id or END))
            if target is None:
                visit.to.append("END")
                result.ended = True
                continue
            visit.to.append(target.name)
            if target.is_join:
                arrived[target.pk].add(step.pk)
                if arrived[target.pk] < incoming[target.pk]:
                    continue
                arrived[target.pk] = set()
            queue.append(target)
        if result.ended:
            break
    if not result.ended and not result.stop:
        result.stop = "The run would wait at a join whose other branches never arrive."
    return result


def _nth(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class DryRunForm(forms.Form):
    """Sample values: the template's run inputs, and per step its outcome and outputs. Every
    field optional (inputs fall back to their defaults, an outcome to the step's first)."""

    prefix = "dry"

    def __init__(self, *, input_specs: list, steps: list, data=None):
        super().__init__(data=None)
        data = data or {}
        self.groups: list[tuple[str, list[str]]] = []
        self.input_specs, _problems = fields.clean_spec(list(input_specs or []))
        self.steps = steps
        names = []
        for name, field_ in fields.form_fields(self.input_specs).items():
            self._add(f"in__{name}", field_, data, names)
        if names:
            self.groups.append(("Run inputs", names))
        for step in steps:
            names = []
            choice = forms.ChoiceField(
                label="Outcome", choices=[(o, o.replace("_", " ")) for o in step.outcomes]
            )
            self._add(f"{step.key}__outcome", choice, data, names)
            specs, _problems = fields.clean_spec(list(step.output_fields or []))
            for name, field_ in fields.form_fields(specs).items():
                self._add(f"{step.key}__out__{name}", field_, data, names)
            self.groups.append((step.name, names))

    def _add(self, name, field_, data, names):
        field_.required = False
        posted = data.get(self.add_prefix(name))
        if posted is not None:
            field_.initial = (
                posted in ("on", "true", "1") if isinstance(field_, forms.BooleanField) else posted
            )
        self.fields[name] = field_
        names.append(name)

    def bound_groups(self):
        return [(legend, [self[name] for name in names]) for legend, names in self.groups]

    def samples(self, data) -> tuple[dict, dict, dict, list[str]]:
        """(inputs, outcomes, outputs by step key, problems) from the posted values."""

        def raw(names_prefix, specs):
            got = {}
            for spec in specs:
                value = data.get(self.add_prefix(f"{names_prefix}{spec['name']}"))
                if value is not None:
                    got[spec["name"]] = value
            return got

        inputs, problems = fields.clean_values(self.input_specs, raw("in__", self.input_specs))
        problems = [f"Run inputs: {p}" for p in problems]
        outcomes, outputs = {}, {}
        for step in self.steps:
            outcomes[step.key] = data.get(self.add_prefix(f"{step.key}__outcome"), "")
            specs, _problems = fields.clean_spec(list(step.output_fields or []))
            given = {k: v for k, v in raw(f"{step.key}__out__", specs).items() if v != ""}
            # A dry run needs no value it doesn't read: a blank output is simply not recorded.
            values, found = fields.clean_values(
                [{**spec, "required": False} for spec in specs], given
            )
            outputs[step.key] = values
            problems.extend(f"Step '{step.key}': {p}" for p in found)
        return inputs, outcomes, outputs, problems
