"""Sub-workflow steps: a step that starts a run of another template of the same team and waits.

Entering the step (services._enter) creates the parent's task, held by Relay automation like an
external step's, and starts the child run on the named template's current published version
with `Run.parent_task` = that task, in the same transaction. When the child run finishes
(services._finish calls `child_finished`), the waiting task completes with the outcome of how
the child ended (completed → passed, failed → failed, cancelled → cancelled), its `outputs` the
child's final outputs, and the parent routes on it like on any outcome. Cancelling the waiting
task (a lead, or the parent run being cancelled or failing) cancels the child run, and so on
down (`cancel_children`).

The link between templates is by slug: a template may not run itself, directly or through
others (`link_problems`, part of validation.validate, so admin save, import and start_run all
refuse a cycle with the chain spelled out).

Input mappings ({child input: expression}) are deliberately small: an expression is a literal
(a JSON number, true/false, or a quoted string) or a name the run knows: `inputs.<name>` or
`<step key>.<output>` (that step's latest finished task's output), as routing.context_for
reads them for conditions. A name the run does not have
leaves the child's input unset, so the child's own default (or its refusal) applies.
"""

import json
import re
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

from apps.people.system import automation_user
from apps.tasks import services as task_services
from apps.tasks.models import State, Task

from . import routing
from .models import Run, RunStatus, Step, StepKind, WorkflowTemplate

# How a finished child run becomes the waiting step's outcome.
OUTCOME_OF_STATUS = {
    RunStatus.COMPLETED: "passed",
    RunStatus.FAILED: "failed",
    RunStatus.CANCELLED: "cancelled",
}
NAME = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$")
MISSING = object()


# --- the templates a step may run --------------------------------------------------------------


def published_templates(*, team_id: int):
    """The team's templates that a sub-workflow step can start: the current published ones."""
    return WorkflowTemplate.objects.filter(team_id=team_id, is_current=True, is_draft=False)


def child_template(*, team_id: int, slug: str) -> WorkflowTemplate | None:
    return published_templates(team_id=team_id).filter(slug=slug).first()


def _links(team_id: int) -> dict[str, set[str]]:
    """Which template (slug) runs which, over the team's current templates (one query)."""
    links: dict[str, set[str]] = {}
    rows = Step.objects.filter(
        template__team_id=team_id, template__is_current=True, kind=StepKind.SUBWORKFLOW
    ).values_list("template__slug", "subworkflow")
    for parent, child in rows:
        links.setdefault(parent, set()).add(child)
    return links


def _cycle_from(start: str, links: Mapping[str, set[str]]) -> list[str] | None:
    """The first chain start → … → (a slug already on it), or None; depth first, in slug order."""
    path: list[str] = []
    done: set[str] = set()

    def walk(slug: str) -> list[str] | None:
        if slug in path:
            return [*path, slug]
        if slug in done:
            return None
        path.append(slug)
        for child in sorted(links.get(slug, ())):
            found = walk(child)
            if found:
                return found
        path.pop()
        done.add(slug)
        return None

    return walk(start)


def link_problems(graph) -> list[str]:
    """Every problem with the graph's sub-workflow steps: a missing or unknown template, one of
    another team, a cycle between templates, an input mapping that can't work. No query when
    the graph has no sub-workflow step."""
    steps = [s for s in graph.steps if s.kind == StepKind.SUBWORKFLOW]
    if not steps:
        return []
    team_id = getattr(graph, "team_id", None)
    own_slug = getattr(graph, "slug", "")
    problems: list[str] = []
    known: dict[str, WorkflowTemplate] = {}
    if team_id is not None:
        known = {
            t.slug: t
            for t in published_templates(team_id=team_id).only("slug", "name", "input_fields")
        }
    named = {s.subworkflow for s in steps if s.subworkflow and s.subworkflow != own_slug}
    elsewhere = set(
        WorkflowTemplate.objects.filter(slug__in=named - set(known))
        .exclude(team_id=team_id)
        .values_list("slug", flat=True)
    )
    step_keys = {s.key for s in graph.steps}
    declared = {f.get("name") for f in getattr(graph, "input_fields", None) or () if f}
    for step in steps:
        slug = step.subworkflow
        if not slug:
            problems.append(
                _(
                    "Sub-workflow step '%(step)s' must name the workflow it runs: set its "
                    "sub-workflow to the slug of one of the team's templates."
                )
                % {"step": step.key}
            )
            continue
        if slug == own_slug:
            problems.append(
                _(
                    "Sub-workflow step '%(step)s' runs '%(slug)s', this workflow itself "
                    "(%(slug)s → %(slug)s): a workflow can't run itself; pick another template."
                )
                % {"step": step.key, "slug": slug}
            )
            continue
        child = known.get(slug)
        if child is None:
            if slug in elsewhere:
                sentence = _(
                    "Sub-workflow step '%(step)s' runs '%(slug)s', a template of another team: "
                    "a sub-workflow must be a template of this team."
                )
            else:
                sentence = _(
                    "Sub-workflow step '%(step)s' runs '%(slug)s', which is no template of this "
                    "team: create (or publish) it first, or fix the slug."
                )
            problems.append(sentence % {"step": step.key, "slug": slug})
            continue
        problems.extend(_mapping_problems(step, child, step_keys=step_keys, declared=declared))
    if team_id is not None and own_slug:
        links = _links(team_id)
        links[own_slug] = {s.subworkflow for s in steps if s.subworkflow}
        cycle = _cycle_from(own_slug, links)
        if cycle and cycle != [own_slug, own_slug]:  # running itself is reported above
            first = next((s.key for s in steps if s.subworkflow == cycle[1]), steps[0].key)
            problems.append(
                _(
                    "Sub-workflow step '%(step)s' makes the templates run each other in a "
                    "cycle: %(chain)s. A workflow can't run itself, even through others: "
                    "remove one of these links."
                )
                % {"step": first, "chain": " → ".join(cycle)}
            )
    return problems


def _mapping_problems(step, child: WorkflowTemplate, *, step_keys, declared) -> list[str]:
    problems: list[str] = []
    mapping = dict(step.subworkflow_inputs or {})
    child_inputs = {f.get("name"): f for f in child.input_fields or () if isinstance(f, dict)}
    for name, expression in mapping.items():
        if child_inputs and name not in child_inputs:
            problems.append(
                _(
                    "Sub-workflow step '%(step)s' sets input '%(name)s', which '%(slug)s' does "
                    "not declare: use one of %(names)s."
                )
                % {
                    "step": step.key,
                    "name": name,
                    "slug": child.slug,
                    "names": ", ".join(sorted(n for n in child_inputs if n)),
                }
            )
        try:
            reads = parse_expression(expression)
        except ValueError as error:
            problems.append(
                _("Sub-workflow step '%(step)s', input '%(name)s': %(why)s")
                % {"step": step.key, "name": name, "why": error}
            )
            continue
        if reads is None:
            continue
        head, _dot, tail = reads.partition(".")
        if head == "inputs":
            if declared and tail.split(".")[0] not in declared:
                problems.append(
                    _(
                        "Sub-workflow step '%(step)s', input '%(name)s' reads '%(reads)s', but "
                        "this workflow declares no input '%(input)s'."
                    )
                    % {"step": step.key, "name": name, "reads": reads, "input": tail}
                )
        elif not tail or head not in step_keys:
            problems.append(
                _(
                    "Sub-workflow step '%(step)s', input '%(name)s' reads '%(reads)s': name "
                    "inputs.<input> or <step key>.<output> of this workflow."
                )
                % {"step": step.key, "name": name, "reads": reads}
            )
    for name, spec in child_inputs.items():
        if spec.get("required") and spec.get("default") in (None, "") and name not in mapping:
            problems.append(
                _(
                    "Sub-workflow step '%(step)s' does not set '%(slug)s''s required input "
                    "'%(name)s': map it to an input or output of this workflow."
                )
                % {"step": step.key, "slug": child.slug, "name": name}
            )
    return problems


# --- input mappings ----------------------------------------------------------------------------


def parse_expression(expression: Any) -> str | None:
    """The name an expression reads, or None for a literal; ValueError with a sentence if it is
    neither. A non-text JSON value (3, true) is a literal."""
    if not isinstance(expression, str):
        if isinstance(expression, (int, float, bool)) or expression is None:
            return None
        raise ValueError(_("use a name, a number, true/false or a quoted text."))
    text = expression.strip()
    if NAME.match(text) and text not in ("true", "false", "null"):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        value = MISSING
    if value is MISSING or isinstance(value, (list, dict)):
        raise ValueError(
            _(
                "'%(text)s' is neither a name (inputs.<input>, <step key>.<output>) nor a "
                'literal (a number, true/false, or a "quoted" text).'
            )
            % {"text": text[:80]}
        )
    return None


def _literal(expression: Any) -> Any:
    return json.loads(expression.strip()) if isinstance(expression, str) else expression


def resolve_inputs(mapping: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """The child run's inputs from the step's mapping (validated before a run can start)."""
    inputs: dict[str, Any] = {}
    for name, expression in mapping.items():
        reads = parse_expression(expression)
        if reads is None:
            inputs[name] = _literal(expression)
        elif reads in context:
            inputs[name] = context[reads]
    return inputs


def final_outputs(run: Run) -> dict[str, Any]:
    """What a finished child hands its parent: every output by name, the latest task's winning."""
    outputs: dict[str, Any] = {}
    for values in (
        Task.objects.filter(run=run, state=State.DONE)
        .order_by("pk")
        .values_list("outputs", flat=True)
    ):
        outputs.update(values or {})
    return outputs


# --- the engine's hooks ------------------------------------------------------------------------


def start_child(*, task: Task) -> Run:
    """Start the run that the sub-workflow step's new task waits for; WorkflowError if it can't
    (the template went away or was deactivated since the parent started)."""
    from .services import WorkflowError, start_run  # services calls this module from _enter

    run, step = task.run, task.step
    template = child_template(team_id=run.team_id, slug=step.subworkflow)
    if template is None:
        raise WorkflowError(
            _("Step '%(step)s' runs '%(slug)s', which is no template of this team any more.")
            % {"step": step.name, "slug": step.subworkflow}
        )
    return start_run(
        template=template,
        title=f"{template.name}: {run.title}"[:200],
        owner=run.owner,
        by=None,
        inputs=resolve_inputs(step.subworkflow_inputs or {}, routing.context_for(run)),
        parent_task=task,
    )


def child_finished(*, run: Run) -> Task | None:
    """The child run ended: its waiting parent task completes with the matching outcome and the
    child's outputs, and the parent run routes on it (a lead's hold on it is lifted first). A
    parent task no longer waiting (it was cancelled, which is what cancelled this child) is
    left alone."""
    parent = Task.objects.select_for_update().filter(pk=run.parent_task_id).first()
    if parent is None or parent.state not in (State.IN_PROGRESS, State.ON_HOLD):
        return None
    if parent.state == State.ON_HOLD:
        # Held by a lead while the child ran: the child's end is the step's end all the same.
        parent = task_services.resume(task=parent, by=automation_user())
    # Written as they are, not as the step's own typed outputs: they are the child's, which
    # the child's steps already checked; the parent's step declares none of its own.
    Task.objects.filter(pk=parent.pk).update(outputs=final_outputs(run))
    outcome = OUTCOME_OF_STATUS[run.status]
    note = _("Sub-workflow run “%(title)s” %(status)s.") % {
        "title": run.title,
        "status": run.get_status_display().lower(),
    }
    if run.failure_reason:
        note = f"{note} {run.failure_reason}"
    return task_services.complete(
        task=parent,
        by=automation_user(),
        outcome=outcome,
        note=note[:500],
        by_report=True,
    )


def cancel_children(*, task: Task, note: str) -> int:
    """The waiting task was cancelled: its running child runs are cancelled too (and theirs)."""
    from .services import stop_run

    cancelled = 0
    for child in Run.objects.filter(parent_task=task, status=RunStatus.RUNNING):
        if stop_run(run=child, note=note):
            cancelled += 1
    return cancelled
