"""The API's answers before and after Django's own: a body over the limit is refused before it
is read (413), and a 404 or 500 that Django itself produced under /api/ (an unknown URL, a
crash outside an operation) is JSON with a sentence, like every other API error."""

import json

from django.conf import settings
from django.http import HttpResponse
from django.utils.translation import gettext as _

from .limits import body_too_large_sentence

PREFIX = "/api/"


def _json(detail: str, status: int) -> HttpResponse:
    return HttpResponse(
        json.dumps({"detail": detail}), status=status, content_type="application/json"
    )


class ApiErrorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _json(_("The Content-Length header is not a number."), 400)
        if length > settings.RELAY_API_MAX_BODY_BYTES:
            return _json(body_too_large_sentence(), 413)
        response = self.get_response(request)
        status = response.status_code
        if status < 400 or response.get("Content-Type", "").startswith("application/json"):
            return response
        if status == 404:
            return _json(_("There is no such API address: see /api/docs."), 404)
        if status == 405:
            answer = _json(
                _("This address does not take %(method)s: see /api/docs.")
                % {"method": request.method},
                405,
            )
            answer["Allow"] = response.get("Allow", "")
            return answer
        if status >= 500:
            return _json(_("Relay failed to answer this request; the error is logged."), status)
        return _json(_("The request was refused (HTTP %(status)d).") % {"status": status}, status)
