"""Making and revoking API tokens: who may, and what is kept (the digest, never the secret)."""

from datetime import timedelta
from http import HTTPStatus

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.refusals import Forbidden, Refused
from apps.people import selectors as people
from apps.people.models import Team, User

from .models import ApiToken, Scope, digest_of, new_secret

# Lifetimes offered on the settings page (days); a token always expires.
LIFETIMES = (7, 30, 90, 365)
DEFAULT_LIFETIME = 90


def _clean(*, name: str, scope: str, days: int) -> tuple[str, str, int]:
    name = " ".join(name.split())
    if not name:
        raise Refused(_("Give the token a name."), status=HTTPStatus.UNPROCESSABLE_ENTITY)
    if scope not in Scope.values:
        raise Refused(_("Choose a scope: read or write."), status=HTTPStatus.UNPROCESSABLE_ENTITY)
    if days not in LIFETIMES:
        raise Refused(
            _("Choose how long the token lasts: %(days)s days.")
            % {"days": ", ".join(str(d) for d in LIFETIMES)},
            status=HTTPStatus.UNPROCESSABLE_ENTITY,
        )
    return name[:60], scope, days


def _create(*, user: User, team: Team | None, name: str, scope: str, days: int):
    name, scope, days = _clean(name=name, scope=scope, days=days)
    secret = new_secret()
    token = ApiToken.objects.create(
        user=user,
        team=team,
        name=name,
        scope=scope,
        digest=digest_of(secret),
        hint=secret[:10],
        expires_at=timezone.now() + timedelta(days=days),
    )
    return token, secret


@transaction.atomic
def create_personal_token(
    *, user: User, name: str, scope: str = Scope.READ, days: int = DEFAULT_LIFETIME
) -> tuple[ApiToken, str]:
    """A token that acts as `user`; returns it and its secret (shown once, never stored)."""
    if not user.is_active:
        raise Forbidden(_("Only people who can sign in make tokens."))
    return _create(user=user, team=None, name=name, scope=scope, days=days)


@transaction.atomic
def create_service_token(
    *, team: Team, by: User, name: str, scope: str = Scope.WRITE, days: int = DEFAULT_LIFETIME
) -> tuple[ApiToken, str]:
    """A token for the team's CI systems, acting as Relay automation for the team; its leads
    make them."""
    if not people.is_lead(team_id=team.pk, user=by):
        raise Forbidden(
            _("Only a lead of %(team)s makes service tokens for it.") % {"team": team.name}
        )
    return _create(user=by, team=team, name=name, scope=scope, days=days)


def may_revoke(*, token: ApiToken, user: User) -> bool:
    """A person revokes their own tokens; a team's leads revoke its service tokens."""
    if token.is_service:
        return people.is_lead(team_id=token.team_id, user=user)
    return token.user_id == user.pk


@transaction.atomic
def revoke_token(*, token: ApiToken, by: User) -> ApiToken:
    """Revoke at once: the next request with it is refused (every request reads the row)."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if not may_revoke(token=token, user=by):
        raise Forbidden(_("Only the token's owner (or, for a service token, a lead) revokes it."))
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
