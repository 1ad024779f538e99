"""What views share: the request they are given and the answer to a refused change."""

from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.middleware import HtmxDetails

from .refusals import Refused


class HtmxHttpRequest(HttpRequest):
    """A request as django-htmx's middleware leaves it: `request.htmx` says whether htmx sent
    it, and which element asked. django-htmx documents this subclass for type hints (its
    example project declares the same) rather than exporting one."""

    htmx: HtmxDetails


def refused(
    request: HttpRequest, refusal: Refused, template: str, context: dict | None = None
) -> HttpResponse:
    """The page or partial that was asked for, saying no.

    The refusal's sentence is the template's `error` and its status the response's: 403 when
    the change is not this person's to make, 409 when it can't happen now.
    """
    context = {**(context or {}), "error": refusal.message}
    return render(request, template, context, status=refusal.status)


def errors_sentence(form: BaseForm) -> str:
    """A form's errors as one sentence, for answers that show no field (a toast, a panel)."""
    return " ".join(str(m) for messages in form.errors.values() for m in messages)
