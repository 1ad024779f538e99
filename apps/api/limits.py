"""The API's limits: requests per caller per minute, and the size of a request body.

The rate limit is a fixed window counted in the Django cache: one key per caller and window,
created with add() and counted with incr(), both atomic in Redis, so two gunicorn workers (or
two machines) on one Redis count one budget. With the per-process cache (no REDIS_URL) each
process counts its own: a development setting, as the settings say.
"""

import time

from django.conf import settings
from django.core.cache import cache
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from .errors import RateLimited

# Counters live under this prefix (the tests give each test its own: ids start again there).
KEY_PREFIX = "api-rate"


def rate() -> tuple[int, int]:
    """(requests, seconds) allowed per caller."""
    return settings.RELAY_API_RATE_LIMIT, settings.RELAY_API_RATE_WINDOW


def check_rate(*, caller_key: str, now: float | None = None) -> None:
    """Count one request for the caller; RateLimited (429, Retry-After) over the budget."""
    allowed, window = rate()
    now = time.time() if now is None else now
    started = int(now // window) * window
    key = f"{KEY_PREFIX}:{caller_key}:{started}"
    # The window's key lives a little longer than the window, then expires by itself.
    cache.add(key, 0, timeout=window + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add() and incr(): this request opens the window again
        cache.set(key, 1, timeout=window + 5)
        count = 1
    if count > allowed:
        retry_after = max(1, int(started + window - now + 0.999))
        raise RateLimited(
            _(
                "Too many requests: %(allowed)d per %(window)d seconds are allowed. "
                "Try again in %(retry)d seconds."
            )
            % {"allowed": allowed, "window": window, "retry": retry_after},
            retry_after=retry_after,
        )


def body_too_large_sentence() -> str:
    limit = filesizeformat(settings.RELAY_API_MAX_BODY_BYTES).replace("\xa0", " ")
    return _("The request body is larger than %(limit)s, the API's limit.") % {"limit": limit}
