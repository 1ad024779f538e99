"""Relay's URLs and /bench-empty/: the base template with no content, logged in."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path

from workflow_site.urls import urlpatterns as relay_urlpatterns


@login_required
def empty(request):
    return render(request, "base.html", {})


urlpatterns = [*relay_urlpatterns, path("bench-empty/", empty)]
