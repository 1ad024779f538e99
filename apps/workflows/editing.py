"""Who may change which team's workflow templates, decided here for every way in: both admin
sites (the global /admin/ and the leads' /team-admin/), the import, and drafts (make, publish,
discard).

The rule itself is the selector `editable_teams` (a superuser: every team; anyone else, staff
included: the teams they lead); these services refuse what falls outside it, so a path that
forgot to narrow its choices still can't write into another team.
"""

from http import HTTPStatus

from apps.people.models import Team, User

from . import exchange, selectors, services
from .models import WorkflowTemplate
from .services import WorkflowError


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
