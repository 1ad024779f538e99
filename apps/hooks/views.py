"""Webhook pages for a team's leads: the list with a form to add one, a page per hook (its
events, its secret on demand and its delivery log with "Redeliver"). Thin: every decision is
in services (who may, what is accepted), every read in selectors."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.http import HtmxHttpRequest, refused
from apps.core.refusals import Refused
from apps.people.models import Team

from . import selectors, services
from .forms import WebhookForm
from .models import Delivery, Webhook

LIST = "hooks/webhook_list.html"
DETAIL = "hooks/webhook_detail.html"


def _team_for(request: HtmxHttpRequest, team_slug: str) -> Team:
    team = selectors.team_for(user=request.user, team_slug=team_slug)
    if team is None:
        raise Http404("No such team.")
    return team


def _hook_for(request: HtmxHttpRequest, team: Team, pk: int) -> Webhook:
    webhook = selectors.webhook_of(team=team, pk=pk)
    if webhook is None:
        raise Http404("No such webhook.")
    return webhook


def _list_context(team: Team, form: WebhookForm) -> dict:
    return {"team": team, "form": form, "webhooks": list(selectors.webhooks_of(team=team))}


def _detail_context(webhook: Webhook, form: WebhookForm | None = None, **extra) -> dict:
    form = form or WebhookForm(
        initial={
            "url": webhook.url,
            "description": webhook.description,
            "events": webhook.events,
            "is_active": webhook.is_active,
        }
    )
    deliveries = selectors.delivery_log(webhook=webhook)
    return {
        "team": webhook.team,
        "webhook": webhook,
        "form": form,
        "deliveries": deliveries,
        # The log refreshes itself only while something in it is still on its way.
        "log_unsent": any(d.is_unsent for d in deliveries),
        **extra,
    }


@require_http_methods(["GET", "POST"])
@login_required
def webhook_list(request: HtmxHttpRequest, team_slug: str) -> HttpResponse:
    team = _team_for(request, team_slug)
    form = WebhookForm(request.POST or None)
    try:
        services.check_may_manage(team=team, by=request.user)
        if request.method == "POST" and form.is_valid():
            webhook = services.create_webhook(
                team=team,
                by=request.user,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
            )
            # The secret is shown right away, once, on the new hook's page.
            context = _detail_context(webhook, show_secret=True, created=True)
            return render(request, DETAIL, context, status=201)
    except services.InvalidWebhook as invalid:
        form.add_error(invalid.field, invalid.message)
        return render(request, LIST, _list_context(team, form), status=invalid.status)
    except Refused as refusal:
        return refused(request, refusal, LIST, {"team": team})
    status = 422 if request.method == "POST" else 200
    return render(request, LIST, _list_context(team, form), status=status)


@require_http_methods(["GET", "POST"])
@login_required
def webhook_detail(request: HtmxHttpRequest, team_slug: str, pk: int) -> HttpResponse:
    team = _team_for(request, team_slug)
    try:
        services.check_may_manage(team=team, by=request.user)
    except Refused as refusal:
        return refused(request, refusal, LIST, {"team": team})
    webhook = _hook_for(request, team, pk)
    if request.method == "GET":
        if request.htmx and request.GET.get("part") == "log":
            return render(request, f"{DETAIL}#delivery-log", _detail_context(webhook))
        return render(request, DETAIL, _detail_context(webhook))
    form = WebhookForm(request.POST)
    if not form.is_valid():
        return render(request, DETAIL, _detail_context(webhook, form), status=422)
    try:
        services.update_webhook(
            webhook=webhook,
            by=request.user,
            url=form.cleaned_data["url"],
            events=form.cleaned_data["events"],
            description=form.cleaned_data["description"],
            is_active=form.cleaned_data["is_active"],
        )
    except services.InvalidWebhook as invalid:
        webhook.refresh_from_db()
        form.add_error(invalid.field, invalid.message)
        return render(request, DETAIL, _detail_context(webhook, form), status=invalid.status)
    except Refused as refusal:
        webhook.refresh_from_db()
        form.add_error(None, refusal.message)
        return render(request, DETAIL, _detail_context(webhook, form), status=refusal.status)
    return redirect("hooks:detail", team_slug=team.slug, pk=webhook.pk)


@require_POST
@login_required
def webhook_secret(request: HtmxHttpRequest, team_slug: str, pk: int) -> HttpResponse:
    """Show the signing secret (POST: it is never in a URL, a cache or a GET log); with
    `rotate`, replace it first."""
    team = _team_for(request, team_slug)
    webhook = _hook_for(request, team, pk)
    try:
        if request.POST.get("rotate"):
            services.rotate_secret(webhook=webhook, by=request.user)
        else:
            services.check_may_manage(team=team, by=request.user)
    except Refused as refusal:
        return refused(request, refusal, f"{DETAIL}#secret", {"team": team, "webhook": webhook})
    context = {"team": team, "webhook": webhook, "show_secret": True}
    if request.htmx:
        return render(request, f"{DETAIL}#secret", context)
    return render(request, DETAIL, _detail_context(webhook, show_secret=True))


@require_POST
@login_required
def webhook_delete(request: HtmxHttpRequest, team_slug: str, pk: int) -> HttpResponse:
    team = _team_for(request, team_slug)
    webhook = _hook_for(request, team, pk)
    try:
        services.delete_webhook(webhook=webhook, by=request.user)
    except Refused as refusal:
        return refused(request, refusal, LIST, {"team": team})
    return redirect("hooks:list", team_slug=team.slug)


@require_POST
@login_required
def redeliver(request: HtmxHttpRequest, team_slug: str, pk: int, delivery_pk: int) -> HttpResponse:
    team = _team_for(request, team_slug)
    webhook = _hook_for(request, team, pk)
    delivery: Delivery | None = selectors.delivery_of(webhook=webhook, pk=delivery_pk)
    if delivery is None:
        raise Http404("No such delivery.")
    try:
        delivery = services.redeliver(delivery=delivery, by=request.user)
    except Refused as refusal:
        if request.htmx:
            context = {"team": team, "webhook": webhook, "delivery": delivery}
            return refused(request, refusal, f"{DETAIL}#delivery-row", context)
        return refused(request, refusal, DETAIL, {**_detail_context(webhook)})
    if request.htmx:
        # Eager Celery (no broker) has sent it by now; with a worker the log's poll shows it.
        delivery.refresh_from_db()
        context = {"team": team, "webhook": webhook, "delivery": delivery, "redelivered": True}
        return render(request, f"{DETAIL}#delivery-row", context)
    return redirect("hooks:detail", team_slug=team.slug, pk=webhook.pk)
