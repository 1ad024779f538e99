"""A person's own availability: away or not, and the time off they book. Thin: the services
in apps.people.services decide and tell assignment."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.core.http import HtmxHttpRequest, errors_sentence, refused
from apps.core.refusals import Refused

from . import selectors, services
from .forms import AwayForm, TimeOffForm
from .models import TimeOff

TEMPLATE = "people/availability.html"


def _context(request: HtmxHttpRequest, **extra) -> dict:
    return {
        "time_off": selectors.upcoming_time_off(user=request.user),
        "time_off_form": extra.pop("time_off_form", None) or TimeOffForm(),
        **extra,
    }


@require_GET
@login_required
def availability(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, TEMPLATE, _context(request))


@require_POST
@login_required
def set_away(request: HtmxHttpRequest) -> HttpResponse:
    form = AwayForm(request.POST)
    if not form.is_valid():
        return render(request, TEMPLATE, _context(request, error=errors_sentence(form)), status=422)
    services.set_away(user=request.user, is_away=form.cleaned_data["away"])
    if request.user.is_away:
        messages.success(request, "You are marked away: no new work is offered to you.")
    else:
        messages.success(request, "Welcome back: new work can be offered to you again.")
    return redirect("people:availability")


@require_POST
@login_required
def book_time_off(request: HtmxHttpRequest) -> HttpResponse:
    form = TimeOffForm(request.POST)
    if not form.is_valid():
        return render(request, TEMPLATE, _context(request, time_off_form=form), status=422)
    starts, ends = form.period()
    try:
        services.book_time_off(
            user=request.user, starts=starts, ends=ends, reason=form.cleaned_data["reason"]
        )
    except Refused as refusal:
        return refused(request, refusal, TEMPLATE, _context(request, time_off_form=form))
    messages.success(request, "Your time off is booked; your leads see it on Workload.")
    return redirect("people:availability")


@require_POST
@login_required
def cancel_time_off(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    try:
        time_off = selectors.own_time_off(user=request.user, pk=pk)
    except TimeOff.DoesNotExist:
        raise Http404 from None
    try:
        services.cancel_time_off(time_off=time_off, by=request.user)
    except Refused as refusal:
        return refused(request, refusal, TEMPLATE, _context(request))
    messages.success(request, "That time off is cancelled.")
    return redirect("people:availability")
