"""Which route(s) a finished step's outcome follows, decided on the run's data.

`choose` is pure: it takes the (step, outcome)'s routes, stored `Route` rows or the editor's
`RouteSpec`s alike (anything with `.outcome .condition .position .to_key`), and a context of
names → values, so the engine (services.advance_run) and the editor's dry run decide the same
way. The rule: the routes with a condition are tried in `position` order and the first that
holds is followed; if none holds, the default routes (no condition) are followed — all of them,
which is how a parallel split keeps starting every branch.

`context_for` builds the context from a run: `inputs.<name>` for the run's inputs,
`<step key>.<output>` for every step's latest finished task, and the bare `<output>` names of
the step being routed.
"""

from dataclasses import dataclass, field

from apps.tasks.models import State, Task

from .conditions import ConditionError, parse


@dataclass(frozen=True)
class Choice:
    """The routes to follow, the condition that chose them ("" = the default or unconditional
    routes), the values the tried conditions read, and the conditions tried before it that did
    not hold (in order)."""

    routes: list = field(default_factory=list)
    condition: str = ""
    values: dict = field(default_factory=dict)
    failed_checks: list = field(default_factory=list)


def _order(route) -> tuple:
    return (route.position or 0, getattr(route, "pk", None) or 0)


def choose(routes, *, outcome: str, context: dict) -> Choice:
    """The route(s) for `outcome` (see the module docstring). ConditionError (a sentence) when
    a condition can't be evaluated, or when no condition holds and there is no default."""
    candidates = sorted((r for r in routes if r.outcome == outcome), key=_order)
    conditional = [r for r in candidates if (r.condition or "").strip()]
    default = [r for r in candidates if not (r.condition or "").strip()]
    values: dict = {}
    failed: list[str] = []
    for route in conditional:
        condition = parse(route.condition)
        values.update({name: context[name] for name in sorted(condition.names) if name in context})
        if condition.evaluate(context):
            return Choice(
                routes=[route], condition=condition.source, values=values, failed_checks=failed
            )
        failed.append(condition.source)
    if conditional and not default:
        raise ConditionError(
            f"None of the conditions for outcome '{outcome}' holds ({'; '.join(failed)}) and "
            "there is no default route."
        )
    return Choice(routes=default, condition="", values=values, failed_checks=failed)


def flatten(prefix: str, values: dict, *, depth: int = 0) -> dict:
    """{prefix + dotted path: value} for the scalars in a (possibly nested) dict."""
    flat: dict = {}
    if not isinstance(values, dict) or depth > 5:
        return flat
    for name, value in values.items():
        if isinstance(value, dict):
            flat.update(flatten(f"{prefix}{name}.", value, depth=depth + 1))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def context_for(run, *, step=None) -> dict:
    """Names → values for conditions over this run (one query for the tasks)."""
    context = flatten("inputs.", run.inputs or {})
    latest: dict[str, dict] = {}
    finished = (
        Task.objects.filter(run=run, state=State.DONE, step__isnull=False)
        .order_by("iteration", "pk")
        .values_list("step__key", "outputs")
    )
    for key, outputs in finished:
        latest[key] = outputs or {}
    for key, outputs in latest.items():
        context.update(flatten(f"{key}.", outputs))
    if step is not None:
        context.update(flatten("", latest.get(step.key, {})))
    return context


__all__ = ["Choice", "ConditionError", "choose", "context_for", "flatten"]
