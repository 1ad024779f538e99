"""Reads about people: roles, availability and why someone is not available."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Membership, Role, Team, TimeOff, User


@dataclass(frozen=True)
class Availability:
    available: bool
    reasons: list[str] = field(default_factory=list)
    time_off_until: datetime | None = None


def availability(*, user: User, at: datetime | None = None) -> Availability:
    """Available = active, not away, not on time off now, and below capacity; else why not."""
    at = at or timezone.now()
    reasons: list[str] = []
    if not user.is_active:
        reasons.append(_("account inactive"))
    if user.is_away:
        reasons.append(_("away"))
    time_off = (
        TimeOff.objects.filter(user=user, starts__lte=at, ends__gt=at).order_by("-ends").first()
    )
    if time_off:
        reasons.append(
            _("on time off until %(date)s")
            % {"date": timezone.localtime(time_off.ends).strftime("%Y-%m-%d")}
        )
    if user.active_count >= user.capacity:
        reasons.append(
            _("at capacity %(active)d/%(capacity)d")
            % {"active": user.active_count, "capacity": user.capacity}
        )
    return Availability(
        available=not reasons,
        reasons=reasons,
        time_off_until=time_off.ends if time_off else None,
    )


def membership(*, team: Team, user: User) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(team=team, user=user).first()


def role_in(*, team_id: int, user: User) -> str | None:
    """The user's role in a team, memoised on the user object for the request."""
    if not user.is_authenticated:
        return None
    cache = user.__dict__.setdefault("_relay_roles", None)
    if cache is None:
        cache = dict(Membership.objects.filter(user=user).values_list("team_id", "role"))
        user.__dict__["_relay_roles"] = cache
    return cache.get(team_id)


def is_lead(*, team_id: int, user: User) -> bool:
    return role_in(team_id=team_id, user=user) == Role.LEAD


def can_review(*, team_id: int, user: User) -> bool:
    return role_in(team_id=team_id, user=user) in (Role.REVIEWER, Role.LEAD)


def teams_for(*, user: User) -> QuerySet[Team]:
    """Teams a user may see: their own; staff see all."""
    if user.is_staff:
        return Team.objects.all()
    return Team.objects.filter(memberships__user=user).distinct()


def team_members(*, team: Team) -> QuerySet[User]:
    return User.objects.filter(memberships__team=team).order_by("username")


def leads_by_team(*, team_ids) -> dict[int, list[User]]:
    """Each of these teams' leads, in one query; a team without leads is missing."""
    leads: dict[int, list[User]] = {}
    for membership in Membership.objects.filter(
        team_id__in=team_ids, role=Role.LEAD
    ).select_related("user"):
        leads.setdefault(membership.team_id, []).append(membership.user)
    return leads
