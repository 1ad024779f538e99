"""Reads about tokens: which a person sees on the settings page."""

from django.db.models import QuerySet

from apps.people import selectors as people
from apps.people.models import Team, User

from .models import ApiToken


def personal_tokens(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user, team__isnull=True)


def led_teams(*, user: User) -> QuerySet[Team]:
    return Team.objects.filter(pk__in=people.led_team_ids(user=user)).order_by("name")


def service_tokens(*, user: User) -> QuerySet[ApiToken]:
    """The service tokens of the teams the person leads (whoever of its leads made them)."""
    return ApiToken.objects.filter(team_id__in=people.led_team_ids(user=user)).select_related(
        "team", "user"
    )


def revocable_token(*, user: User, pk: int) -> ApiToken:
    """A token the person may see on their settings page; anyone else's is DoesNotExist."""
    own = ApiToken.objects.filter(user=user, team__isnull=True, pk=pk).first()
    return own or service_tokens(user=user).get(pk=pk)
