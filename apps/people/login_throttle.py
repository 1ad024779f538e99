"""Login throttling with django-axes: who is locked out after how many failures, and from where.

Axes counts failed logins (on /login/, /admin/ and any other page that logs in through
`django.contrib.auth.authenticate`) per *lockout parameter* and locks out when one count reaches
its limit. Relay keeps two counts, each with its own limit (settings.RELAY_LOGIN_LIMITS):

- one account from one address (someone guessing a password): a handful of failures;
- one address whatever the account (someone trying one password on many accounts): more,
  since an office behind one NAT address shares it.

There is no count per account alone: anyone could then lock a colleague out from anywhere.
"""

from math import ceil

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from django.conf import settings
from django.db.models import Sum
from django.shortcuts import render


class LoginThrottleBackend(AxesStandaloneBackend):
    """Refuses every login of a locked-out client, even with the right password.

    First in AUTHENTICATION_BACKENDS, so a locked-out client never reaches the password check.
    Axes refuses to authenticate without a request (it cannot tell where an attempt comes
    from); code that has none (the test client's `login()`, a shell) is not a login from
    outside, so it is left to the next backend instead of failing with a ValueError.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class LoginThrottleHandler(AxesDatabaseHandler):
    """Axes's database handler with one limit per lockout parameter instead of one for all.

    Axes compares the largest count with a single AXES_FAILURE_LIMIT; each count is scaled
    here so that reaching its own limit (RELAY_LOGIN_LIMITS, in the order of
    AXES_LOCKOUT_PARAMETERS) is reaching AXES_FAILURE_LIMIT.
    """

    def get_failures(self, request, credentials=None) -> int:
        limit = settings.AXES_FAILURE_LIMIT
        scaled = [0]
        for attempts, own_limit in zip(
            self.get_user_attempts(request, credentials), settings.RELAY_LOGIN_LIMITS, strict=True
        ):
            failures = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            scaled.append(failures * limit // own_limit)
        return max(scaled)


def client_ip(request) -> str | None:
    """The address a login attempt comes from, for the lock-out counts.

    REMOTE_ADDR, unless Relay runs behind proxies that append the client's address to
    X-Forwarded-For (RELAY_TRUSTED_PROXIES = how many): then the address the outermost of
    them saw. Addresses further left are written by the client and could be anything.
    """
    proxies = settings.RELAY_TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR")


def locked_out(request, original_response=None, credentials=None):
    """The page a locked-out login gets (HTTP 429): what happened, for how long, what to do."""
    minutes = ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    context = {"minutes": minutes, "username": get_client_username(request, credentials) or ""}
    return render(request, "registration/locked_out.html", context, status=429)
