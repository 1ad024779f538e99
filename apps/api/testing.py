"""Tokens for tests (and the benchmark): made through the same service as the settings page."""

from apps.people.models import Team, User
from apps.people.selectors import leads_of

from . import services
from .models import ApiToken, Scope


def service_token_for_tests(team: Team, *, scope: str = Scope.WRITE, name: str = "CI") -> str:
    """A service token's secret for `team`, made by one of its leads (one is made if none)."""
    leads = leads_of(team_id=team.pk)
    if leads:
        lead = leads[0]
    else:
        from apps.people.models import Membership, Role

        lead = User.objects.create_user(username=f"lead-of-{team.slug}"[:150])
        Membership.objects.create(team=team, user=lead, role=Role.LEAD)
    _token, secret = services.create_service_token(team=team, by=lead, name=name, scope=scope)
    return secret


def personal_token_for_tests(user: User, *, scope: str = Scope.WRITE, name: str = "tests") -> str:
    _token, secret = services.create_personal_token(user=user, name=name, scope=scope)
    return secret


def bearer(secret: str) -> dict[str, str]:
    """Headers for Django's test client: client.get(url, headers=bearer(secret))."""
    return {"Authorization": f"Bearer {secret}"}


__all__ = ["ApiToken", "bearer", "personal_token_for_tests", "service_token_for_tests"]
