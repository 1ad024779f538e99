"""GET /healthz: the health report as JSON, for load balancers and monitoring.

No login (a load balancer has none), no session, no template: it runs every few seconds per
probe, so it costs a few small queries and, with a broker, one connection attempt. 200 when
every check passes, 503 when any fails; `?checks=database,broker` runs only those (see README,
"Health checks": a load balancer that takes a node out of rotation should ask only about what
differs between nodes).
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from . import checks


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    asked = request.GET.getlist("checks")
    try:
        names = checks.selected(
            [name for value in asked for name in value.split(",")] if asked else None
        )
    except checks.UnknownCheck as error:
        response = JsonResponse({"error": str(error), "checks": list(checks.CHECKS)}, status=400)
    else:
        report = checks.run(names)
        response = JsonResponse(report.as_json(), status=200 if report.ok else 503)
    # A cached "ok" would hide an outage: every probe must reach Relay.
    response["Cache-Control"] = "no-store"
    return response
