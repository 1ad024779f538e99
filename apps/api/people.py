"""API: who is calling, teams, and their people (skills, capacity, availability)."""

from datetime import datetime

from ninja import Router, Schema

from apps.assignment import selectors as assignment

from . import access
from .access import Slug
from .errors import ERRORS

router = Router(tags=["teams"])


class MeOut(Schema):
    username: str
    display_name: str
    # A service token's team (it acts as Relay automation for it); null for a person.
    team: str | None
    scope: str
    token: str | None


class TeamOut(Schema):
    slug: str
    name: str
    description: str


class SkillOut(Schema):
    slug: str
    name: str
    level: int


class TimeOffOut(Schema):
    starts: datetime
    ends: datetime


class PersonOut(Schema):
    username: str
    display_name: str
    role: str
    capacity: int
    active_tasks: int
    is_away: bool
    on_time_off_until: datetime | None
    # Would be offered new work now: active, not away, not on time off, below capacity.
    available: bool
    skills: list[SkillOut]
    time_off: list[TimeOffOut]


@router.get("me", response={200: MeOut, **ERRORS}, summary="Who the request acts as")
def me(request):
    caller = request.auth
    return {
        "username": caller.user.username,
        "display_name": caller.user.display_name,
        "team": caller.team.slug if caller.is_service else None,
        "scope": caller.scope,
        "token": caller.token.name if caller.token else None,
    }


@router.get("teams", response={200: list[TeamOut], **ERRORS}, summary="Teams you can see")
def team_list(request):
    return list(access.teams(request.auth).order_by("name"))


@router.get("teams/{slug}", response={200: TeamOut, **ERRORS}, summary="One team")
def team_detail(request, slug: Slug):
    return access.team(request.auth, slug)


@router.get(
    "teams/{slug}/people",
    response={200: list[PersonOut], **ERRORS},
    summary="The team's people: skills, capacity and availability",
)
def team_people(request, slug: Slug):
    team = access.team(request.auth, slug)
    return [
        {
            "username": row.user.username,
            "display_name": row.user.display_name,
            "role": row.role,
            "capacity": row.user.capacity,
            "active_tasks": row.user.active_count,
            "is_away": row.user.is_away,
            "on_time_off_until": row.on_time_off_until,
            "available": (
                row.user.is_active
                and not row.user.is_away
                and row.on_time_off_until is None
                and row.user.active_count < row.user.capacity
            ),
            "skills": [
                {"slug": ps.skill.slug, "name": ps.skill.name, "level": ps.level}
                for ps in row.skills
            ],
            "time_off": [{"starts": t.starts, "ends": t.ends} for t in row.time_off],
        }
        for row in assignment.workload(team=team)
    ]
