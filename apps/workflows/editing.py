"""Who may change which team's workflow templates, decided here for every way in: both admin
sites (the global /admin/ and the leads' /team-admin/), the import, and drafts (make, publish,
discard).

The rule itself is the selector `editable_teams` (a superuser: every team; anyone else, staff
included: the teams they lead); these services refuse what falls outside it, so a path that
forgot to narrow its choices still can't write into another team.
"""

import re
from http import HTTPStatus

from apps.people.models import Team, User

from . import diagram, dryrun, exchange, selectors, services
from .diagram import Marks
from .models import WorkflowTemplate
from .services import WorkflowError
from .validation import graph_of, validate


def check_may_edit(*, by: User, team_id: int | None) -> None:
    if not selectors.may_edit_team_workflows(by, team_id=team_id):
        raise WorkflowError(
            "You can only change the workflows of a team you lead.", status=HTTPStatus.FORBIDDEN
        )


def import_into(*, raw: str | bytes | dict, team: Team, by: User) -> WorkflowTemplate:
    """Import a document into `team` (the team named in the file is not used)."""
    check_may_edit(by=by, team_id=team.pk)
    return exchange.import_template(raw, team=team, by=by)


def make_draft(*, template: WorkflowTemplate, by: User) -> WorkflowTemplate:
    check_may_edit(by=by, team_id=template.team_id)
    return services.make_draft(template=template, by=by)


def publish_draft(*, draft: WorkflowTemplate, by: User) -> WorkflowTemplate:
    check_may_edit(by=by, team_id=draft.team_id)
    return services.publish_draft(draft=draft, by=by)


def discard_draft(*, draft: WorkflowTemplate, by: User) -> None:
    check_may_edit(by=by, team_id=draft.team_id)
    services.discard_draft(draft=draft, by=by)


# --- what the editor shows next to the form: the live diagram, the status, the dry run --------

_STEP_NAMED = re.compile(r"\b[Ss]teps? '([^']+)'")


def problems_by_step(problems: list[str], steps: list) -> dict:
    """Each problem on the step it concerns (step id → sentences): the first existing step a
    sentence names ("Step 'evaluate' has no route …", "Step 'evaluate', route 2 …")."""
    ids = {step.key: step.pk for step in steps}
    found: dict = {}
    for problem in problems:
        for key in _STEP_NAMED.findall(problem):
            if key in ids:
                found.setdefault(ids[key], []).append(problem)
                break
    return found


def live_view(
    *,
    template: WorkflowTemplate,
    steps: list,
    routes: list,
    data=None,
    form_problems: list[str] = (),
    dry: bool = False,
) -> dict:
    """The editor's diagram (problems on their shapes, a dry run's path highlighted), the
    version's status in words and the dry-run form, for stored or unsaved steps and routes."""
    found = [*form_problems, *validate(graph_of(template, steps=steps, routes=routes))]
    marks = {"problems": problems_by_step(found, steps)}
    form = dryrun.DryRunForm(input_specs=template.input_fields or [], steps=steps, data=data)
    walked = sample_problems = None
    if dry:
        inputs, outcomes, outputs, sample_problems = form.samples(data or {})
        if not sample_problems:
            walked = dryrun.walk(
                steps=steps, routes=routes, inputs=inputs, outcomes=outcomes, outputs=outputs
            )
            marks["path_steps"] = frozenset(walked.steps)
            marks["path_edges"] = frozenset(walked.edges)
    return {
        "diagram": diagram.render(template, steps=steps, routes=routes, marks=Marks(**marks)),
        "problems": found,
        "dry_form": form,
        "dry": walked,
        "dry_problems": sample_problems or [],
    }
