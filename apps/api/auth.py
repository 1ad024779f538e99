"""Who is calling: a bearer token or the browser's session, as a `Caller`.

`request.auth` is a Caller for every authenticated request. A personal token (or a session)
acts as its person, seeing what the pages show them. A service token acts as Relay automation
(apps.people.system) for its team only, and what it does carries the token's name into the
history ("CI (service token) for Data Science") through `Caller.note`.

Sessions pass Django's CSRF check on unsafe methods, as a form post would; tokens need none
(a browser never sends them by itself). A read-only token is refused any unsafe method. Each
caller's requests are counted against the rate limit (apps.api.limits).
"""

from dataclasses import dataclass
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from apps.people.models import Team, User
from apps.people.system import automation_user

from . import limits
from .errors import ApiError, NotAuthenticated
from .models import ApiToken, Scope, digest_of

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# How stale a token's "last used" may be: writing it on every request would make every read a
# write.
LAST_USED_PRECISION = 60


@dataclass(frozen=True)
class Caller:
    user: User
    team: Team | None  # a service token's team; None for a person
    scope: str
    token: ApiToken | None  # None for a browser session

    @property
    def is_service(self) -> bool:
        return self.team is not None

    @property
    def may_write(self) -> bool:
        return self.scope == Scope.WRITE

    def note(self, note: str = "") -> str:
        """A note for the history: a service token's name leads what it writes."""
        if not self.is_service:
            return note
        label = self.token.actor_label
        return f"{label}: {note}" if note else label


def _refuse_read_only(request: HttpRequest, caller: Caller) -> None:
    if request.method not in SAFE_METHODS and not caller.may_write:
        raise ApiError(
            _("This token is read-only: make a token with write scope to change anything."),
            status=HTTPStatus.FORBIDDEN,
        )


def _counted(request: HttpRequest, caller: Caller, key: str) -> Caller:
    limits.check_rate(caller_key=key)
    _refuse_read_only(request, caller)
    return caller


def caller_for_token(secret: str) -> Caller:
    """The caller a token's secret stands for; NotAuthenticated (401) with the reason if none."""
    token = ApiToken.objects.select_related("user", "team").filter(digest=digest_of(secret)).first()
    if token is None:
        raise NotAuthenticated(
            _("This token is not valid: check it was copied whole, or make a new one.")
        )
    now = timezone.now()
    if token.revoked_at is not None:
        raise NotAuthenticated(_("This token was revoked."))
    if token.expires_at <= now:
        raise NotAuthenticated(
            _("This token expired on %(when)s.")
            % {"when": date_format(token.expires_at, "DATETIME_FORMAT")}
        )
    if not token.user.is_active:
        raise NotAuthenticated(_("The person who made this token can no longer sign in."))
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > (
        LAST_USED_PRECISION
    ):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    user = automation_user() if token.is_service else token.user
    return Caller(user=user, team=token.team, scope=token.scope, token=token)


class BearerToken(HttpBearer):
    """`Authorization: Bearer relay_…`: a personal or service token."""

    def authenticate(self, request: HttpRequest, token: str) -> Caller:
        caller = caller_for_token(token)
        return _counted(request, caller, f"token:{caller.token.pk}")


class SessionCookie(APIKeyCookie):
    """The browser's signed-in session (the interactive docs, the pages' own scripts)."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            if request.user.is_authenticated:
                raise ApiError(
                    _("The CSRF check failed: send the X-CSRFToken header with the page's token."),
                    status=HTTPStatus.FORBIDDEN,
                )
            return None
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Caller | None:
        if not request.user.is_authenticated:
            return None
        caller = Caller(user=request.user, team=None, scope=Scope.WRITE, token=None)
        return _counted(request, caller, f"user:{request.user.pk}")


AUTH = [BearerToken(), SessionCookie()]
