"""The REST API: one NinjaAPI, its routers under /api/v1/, its schema at /api/openapi.json and
its interactive docs at /api/docs (django-ninja's own Swagger UI files, served by Relay: the
CSP allows no CDN).

Every operation answers errors as `{"detail": sentence}` (apps.api.errors); the handlers
below turn each kind of "no" into that, with the status the pages would give.
"""

import logging

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from apps.core.refusals import Refused

from . import notifications, people, runs, steps, tasks, templates
from .auth import AUTH
from .errors import ApiError

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="Relay API",
    version="1",
    description=(
        "Relay's teams, people, tasks, workflow runs and templates, for scripts and CI systems. "
        "Authenticate with `Authorization: Bearer <token>` (make one under Settings → API "
        'tokens) or the browser\'s session. Every error is `{"detail": sentence}`.'
    ),
    urls_namespace="api",
    auth=AUTH,
    openapi_url="/openapi.json",
    docs_url="/docs",
)

api.add_router("/v1/", people.router)
api.add_router("/v1/", tasks.router)
api.add_router("/v1/", runs.router)
api.add_router("/v1/", templates.router)
api.add_router("/v1/", notifications.router)
api.add_router("/v1/steps/", steps.router)


def _detail(request: HttpRequest, detail: str, status: int, headers=None) -> HttpResponse:
    response = api.create_response(request, {"detail": detail}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@api.exception_handler(ApiError)
def _api_error(request, error: ApiError):
    return _detail(request, error.detail, error.status, error.headers)


@api.exception_handler(Refused)
def _refused(request, refusal: Refused):
    return _detail(request, refusal.message, int(refusal.status))


@api.exception_handler(AuthenticationError)
def _not_authenticated(request, error):
    return _detail(
        request,
        _("Sign in, or send a token: Authorization: Bearer <token> (Settings → API tokens)."),
        401,
    )


@api.exception_handler(Http404)
def _not_found(request, error):
    return _detail(request, str(error) or _("Not found."), 404)


def _where(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "payload")]
    return ".".join(parts) or "request"


@api.exception_handler(ValidationError)
def _invalid(request, error: ValidationError):
    sentence = " ".join(
        f"{_where(e.get('loc', ()))}: {str(e.get('msg', '')).rstrip('.')}." for e in error.errors
    )
    return _detail(request, sentence or _("The request is not valid."), 422)


@api.exception_handler(HttpError)
def _http_error(request, error: HttpError):
    return _detail(request, str(error), error.status_code)


@api.exception_handler(Exception)
def _server_error(request, error: Exception):
    logger.exception("API error on %s %s", request.method, request.path)
    return _detail(request, _("Relay failed to answer this request; the error is logged."), 500)
