"""The API tokens page: a person's own tokens, and the service tokens of the teams they lead.

A new token's secret is in the page that answers the form, once: it is never stored (only its
digest) and never shown again.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.core.http import HtmxHttpRequest, errors_sentence
from apps.core.refusals import Refused

from . import selectors, services
from .forms import ServiceTokenForm, TokenForm
from .models import ApiToken


def _page(request: HtmxHttpRequest, *, status: int = 200, **extra) -> HttpResponse:
    teams = selectors.led_teams(user=request.user)
    context = {
        "personal": selectors.personal_tokens(user=request.user),
        "service": selectors.service_tokens(user=request.user),
        "form": TokenForm(prefix="personal"),
        "service_form": ServiceTokenForm(prefix="service", teams=teams) if teams else None,
        **extra,
    }
    return render(request, "api/tokens.html", context, status=status)


@require_GET
@login_required
def tokens(request: HtmxHttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@login_required
def token_create(request: HtmxHttpRequest) -> HttpResponse:
    form = TokenForm(request.POST, prefix="personal")
    if not form.is_valid():
        return _page(request, form=form, error=errors_sentence(form), status=422)
    try:
        token, secret = services.create_personal_token(user=request.user, **form.cleaned_data)
    except Refused as refusal:
        return _page(request, form=form, error=refusal.message, status=refusal.status)
    return _page(request, created=token, secret=secret, status=201)


@require_POST
@login_required
def service_token_create(request: HtmxHttpRequest) -> HttpResponse:
    teams = selectors.led_teams(user=request.user)
    form = ServiceTokenForm(request.POST, prefix="service", teams=teams)
    if not form.is_valid():
        return _page(request, service_form=form, error=errors_sentence(form), status=422)
    data = dict(form.cleaned_data)
    try:
        token, secret = services.create_service_token(by=request.user, **data)
    except Refused as refusal:
        return _page(request, service_form=form, error=refusal.message, status=refusal.status)
    return _page(request, created=token, secret=secret, status=201)


@require_POST
@login_required
def token_revoke(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    try:
        token = selectors.revocable_token(user=request.user, pk=pk)
    except ApiToken.DoesNotExist:
        raise Http404("No such token.") from None
    try:
        services.revoke_token(token=token, by=request.user)
    except Refused as refusal:
        return _page(request, error=refusal.message, status=refusal.status)
    messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
    return redirect("api_tokens:tokens")
