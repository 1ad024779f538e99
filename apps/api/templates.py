"""API: workflow templates — the team's list, one exported as JSON, and importing a document
with the admin's own validation (apps.workflows.exchange through apps.workflows.editing)."""

from typing import Annotated, Any

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Body, Router, Schema, Status

from apps.workflows import editing, exchange, selectors
from apps.workflows.models import WorkflowTemplate

from . import access
from .access import Slug
from .errors import ERRORS

router = Router(tags=["templates"])


class TemplateOut(Schema):
    id: int
    slug: str
    name: str
    description: str
    version: int
    is_active: bool


def _template(caller, team_slug: str, slug: str) -> WorkflowTemplate:
    team = access.team(caller, team_slug)
    template = WorkflowTemplate.objects.filter(team=team, slug=slug, is_current=True).first()
    if template is None:
        raise Http404(_("No workflow '%(slug)s' in %(team)s.") % {"slug": slug, "team": team.name})
    return template


@router.get(
    "teams/{slug}/templates",
    response={200: list[TemplateOut], **ERRORS},
    summary="The workflows the team can start",
)
def template_list(request, slug: Slug):
    return list(selectors.startable_templates(team=access.team(request.auth, slug)))


@router.get(
    "teams/{slug}/templates/{template}/export",
    response={200: dict[str, Any], **ERRORS},
    summary="A workflow's current version as an import document",
)
def template_export(request, slug: Slug, template: Slug):
    return exchange.export_template(_template(request.auth, slug, template))


@router.post(
    "teams/{slug}/templates/import",
    response={201: TemplateOut, **ERRORS},
    summary="Import a workflow document into the team (its leads)",
)
def template_import(request, slug: Slug, document: Annotated[dict[str, Any], Body()]):
    caller = request.auth
    team = access.team(caller, slug)
    # The document as it came: exchange reads it with its own limits (size, depth, NUL).
    return Status(201, editing.import_into(raw=request.body, team=team, by=caller.user))
