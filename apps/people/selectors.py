"""Reads about people: teams, roles and who leads or reviews.

Whether someone can take a task (skill, availability, capacity) and why not is decided in one
place, apps.assignment.selectors.candidates.
"""

from django.db.models import QuerySet
from django.utils import timezone

from .models import Membership, Role, Team, TimeOff, User


def _roles(user: User) -> dict[int, str]:
    """team id → the user's role there, memoised on the user object for the request."""
    if not user.is_authenticated:
        return {}
    cache = user.__dict__.setdefault("_relay_roles", None)
    if cache is None:
        cache = dict(Membership.objects.filter(user=user).values_list("team_id", "role"))
        user.__dict__["_relay_roles"] = cache
    return cache


def role_in(*, team_id: int, user: User) -> str | None:
    """The user's role in a team."""
    return _roles(user).get(team_id)


def led_team_ids(*, user: User) -> set[int]:
    """The teams an active user leads (an inactive account leads nothing)."""
    if not user.is_active:
        return set()
    return {team_id for team_id, role in _roles(user).items() if role == Role.LEAD}


def review_team_ids(*, user: User) -> list[int]:
    """The teams whose reviews this user may decide (reviewer or lead there)."""
    return sorted(t for t, role in _roles(user).items() if role in (Role.REVIEWER, Role.LEAD))


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


def leads_of(*, team_id: int) -> list[User]:
    """The team's leads who can act (active accounts): they hear about runs and waiting work."""
    return list(
        User.objects.filter(
            memberships__team_id=team_id, memberships__role=Role.LEAD, is_active=True
        )
    )


def leads_at_work(*, team_id: int) -> list[User]:
    """The team's leads who are neither away nor on time off now: the ones to disturb about
    waiting work (those off see the Workload page when they are back)."""
    now = timezone.now()
    return list(
        User.objects.filter(
            memberships__team_id=team_id, memberships__role=Role.LEAD, is_active=True, is_away=False
        ).exclude(time_off__starts__lte=now, time_off__ends__gt=now)
    )


def leads_by_team(*, team_ids) -> dict[int, list[User]]:
    """leads_of for several teams in one query; a team without leads is missing."""
    leads: dict[int, list[User]] = {}
    for membership in Membership.objects.filter(
        team_id__in=team_ids, role=Role.LEAD, user__is_active=True
    ).select_related("user"):
        leads.setdefault(membership.team_id, []).append(membership.user)
    return leads


def upcoming_time_off(*, user: User) -> QuerySet[TimeOff]:
    """The person's time off that has not ended yet, soonest first."""
    return TimeOff.objects.filter(user=user, ends__gt=timezone.now()).order_by("starts")


def own_time_off(*, user: User, pk: int) -> TimeOff:
    """One of the person's own time-off bookings (TimeOff.DoesNotExist for anyone else's)."""
    return TimeOff.objects.get(user=user, pk=pk)
