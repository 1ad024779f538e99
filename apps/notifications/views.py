"""Inbox, preferences and the header badge. Thin: selectors read, services write."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.http import HtmxHttpRequest

from . import selectors
from .forms import PreferencesForm
from .models import Notification
from .services import inbox as inbox_services

PAGE_SIZE = 50


@require_GET
@login_required
def inbox(request: HtmxHttpRequest) -> HttpResponse:
    page = Paginator(selectors.inbox(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "notifications/inbox.html", {"page": page})


def _own_or_404(request: HtmxHttpRequest, pk: int) -> Notification:
    """The person's own notification: anyone else's does not exist for them."""
    try:
        return selectors.own_notification(user=request.user, pk=pk)
    except Notification.DoesNotExist:
        raise Http404 from None


@require_POST
@login_required
def mark_read(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    notification = _own_or_404(request, pk)
    inbox_services.mark_read(notification=notification)
    if request.htmx:
        return render(request, "notifications/inbox.html#item", {"n": notification, "oob": True})
    return redirect("notifications:inbox")


@require_GET
@login_required
def open_notification(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Following a notification's link reads it: the person has seen what it was about."""
    notification = _own_or_404(request, pk)
    inbox_services.mark_read(notification=notification)
    if notification.task_id is not None:
        return redirect("tasks:task_detail", notification.task_id)
    path = (notification.payload or {}).get("url", "")
    if isinstance(path, str) and path.startswith("/") and not path.startswith(("//", "/\\")):
        return redirect(path)
    return redirect("notifications:inbox")


@require_POST
@login_required
def mark_all_read(request: HtmxHttpRequest) -> HttpResponse:
    count = inbox_services.mark_all_read(user=request.user)
    messages.success(request, f"Marked {count} notification{'s' * (count != 1)} read.")
    return redirect("notifications:inbox")


@require_GET
@login_required
def badge(request: HtmxHttpRequest) -> HttpResponse:
    """The header's unread count on its own, for pages that refresh it (hx-get)."""
    return render(request, "notifications/partials/unread_badge.html")


@require_http_methods(["GET", "POST"])
@login_required
def preferences(request: HtmxHttpRequest) -> HttpResponse:
    prefs = selectors.preferences_for(user=request.user)
    form = PreferencesForm(request.POST or None, prefs=prefs)
    if request.method == "POST":
        if form.is_valid():
            inbox_services.update_preferences(
                user=request.user,
                time_zone=form.cleaned_data["time_zone"],
                digest_hour=form.cleaned_data["digest_hour"],
                digest_enabled=form.cleaned_data["digest_enabled"],
                channels=form.channels(),
            )
            messages.success(request, "Your notification settings are saved.")
            return redirect("notifications:preferences")
        return render(request, "notifications/preferences.html", {"form": form}, status=422)
    return render(request, "notifications/preferences.html", {"form": form})
