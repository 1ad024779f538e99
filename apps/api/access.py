"""What a caller may see: the pages' own selectors for a person; one team for a service token.

A person (session or personal token) sees exactly what the pages show them (the same
selectors); a service token sees its team and nothing else. Anything else is a 404 that says
what was not found, as an address that does not exist would be.
"""

from typing import Annotated

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from pydantic import Field

from apps.people import selectors as people
from apps.people.models import Team
from apps.tasks import selectors as task_selectors
from apps.tasks.models import Task
from apps.workflows import selectors as workflow_selectors
from apps.workflows.models import Run

from .auth import Caller

# Ids and slugs as the schema declares them: a value outside these never reaches SQL.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"
Slug = Annotated[str, Field(min_length=1, max_length=80, pattern=SLUG_PATTERN)]


def teams(caller: Caller) -> QuerySet[Team]:
    if caller.is_service:
        return Team.objects.filter(pk=caller.team.pk)
    return people.teams_for(user=caller.user)


def team(caller: Caller, slug: str) -> Team:
    found = teams(caller).filter(slug=slug).first()
    if found is None:
        raise Http404(_("No team '%(slug)s' that you can see.") % {"slug": slug})
    return found


def tasks(caller: Caller) -> QuerySet[Task]:
    if caller.is_service:
        return Task.objects.filter(team=caller.team)
    return task_selectors.visible_tasks(caller.user)


def task(caller: Caller, pk: int, *, related=()) -> Task:
    found = tasks(caller).select_related("team", *related).filter(pk=pk).first()
    if found is None:
        raise Http404(_("No task #%(pk)d that you can see.") % {"pk": pk})
    return found


def runs(caller: Caller) -> QuerySet[Run]:
    if caller.is_service:
        return Run.objects.filter(team=caller.team)
    return workflow_selectors.visible_runs(caller.user)


def run(caller: Caller, pk: int) -> Run:
    found = runs(caller).select_related("template", "owner", "team").filter(pk=pk).first()
    if found is None:
        raise Http404(_("No run #%(pk)d that you can see.") % {"pk": pk})
    return found
