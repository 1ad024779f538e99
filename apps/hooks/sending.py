"""Sending deliveries: claim one, POST it signed, mark it; retry with backoff; sweep.

Each send first *claims* its delivery with one conditional UPDATE (pending and due → sending),
so two workers handed the same id never both send it at the same time. The one duplicate this
allows (the receiver answered 2xx, the worker died before marking it sent) arrives with the
same `X-Relay-Delivery` id, which is how a receiver recognises it: delivery is at least once.
"""

import hashlib
import hmac
import http.client
import json
import logging
import socket
import ssl
import time
import uuid
from datetime import datetime, timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F, Q
from django.utils import timezone

from .conf import conf
from .models import Delivery, Status
from .safety import Target, UnsafeURL, check_url

logger = logging.getLogger(__name__)

EXCERPT_BYTES = 1000
USER_AGENT = "Relay-Webhooks/1"


def body_of(delivery: Delivery) -> bytes:
    """The exact bytes POSTed (and signed): the same on every attempt."""
    return json.dumps(
        delivery.payload, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":")
    ).encode()


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of "<timestamp>.<body>" under the hook's secret."""
    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def headers_for(*, delivery: Delivery, body: bytes, timestamp: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Relay-Event": delivery.event,
        "X-Relay-Delivery": str(delivery.delivery_id),
        "X-Relay-Timestamp": timestamp,
        "X-Relay-Signature": signature(
            secret=delivery.webhook.secret, timestamp=timestamp, body=body
        ),
    }


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address safety.check_url approved, whatever DNS says now."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = target.address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class SendFailed(Exception):
    """This attempt did not reach a 2xx; str() says why, `status_code` what was answered."""

    def __init__(self, message: str, *, status_code: int | None = None, excerpt: str = ""):
        super().__init__(message)
        self.status_code = status_code
        self.excerpt = excerpt


def post(*, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST once, following no redirect; returns (status, excerpt of the answer) on 2xx."""
    try:
        target = check_url(url)
    except UnsafeURL as error:
        raise SendFailed(str(error)) from None
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, timeout=conf("RELAY_WEBHOOKS_TIMEOUT"))
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", errors="replace")
        status = response.status
    except (OSError, http.client.HTTPException) as error:
        raise SendFailed(f"{type(error).__name__}: {error}"[:2000]) from None
    finally:
        connection.close()
    if 200 <= status < 300:
        return status, excerpt
    if 300 <= status < 400:
        message = f"The receiver answered HTTP {status}; redirects are not followed."
    else:
        message = f"The receiver answered HTTP {status}."
    raise SendFailed(message, status_code=status, excerpt=excerpt)


def claim(*, delivery: Delivery, token: str) -> bool:
    """Take one delivery for sending; True if this worker now owns it. Taken only if it is
    pending and due, or its previous owner's lease expired, and it has attempts left."""
    now = timezone.now()
    due = Q(status=Status.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=1))
    )
    abandoned = Q(
        status=Status.SENDING,
        claimed_at__lt=now - timedelta(seconds=conf("RELAY_WEBHOOKS_CLAIM_LEASE")),
    )
    taken = (
        Delivery.objects.filter(due | abandoned)
        .filter(pk=delivery.pk, attempts__lt=conf("RELAY_WEBHOOKS_MAX_ATTEMPTS"))
        .update(
            status=Status.SENDING,
            claimed_at=now,
            claimed_by=token,
            attempts=F("attempts") + 1,
            last_attempt_at=now,
        )
    )
    if taken:
        delivery.status = Status.SENDING
        delivery.claimed_at, delivery.claimed_by = now, token
        delivery.attempts += 1
    return bool(taken)


def deliver(*, ids: list[int]) -> dict[str, int]:
    """Claim, send and mark each delivery in turn; returns how many were sent, will be retried,
    failed for good or were skipped (already sent, not due, or another worker's)."""
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    token = uuid.uuid4().hex
    candidates = list(
        Delivery.objects.filter(pk__in=ids, status__in=[Status.PENDING, Status.SENDING])
        .select_related("webhook")
        .order_by("pk")
    )
    counts["skipped"] = len(set(ids)) - len(candidates)
    for delivery in candidates:
        if not claim(delivery=delivery, token=token):
            counts["skipped"] += 1
            continue
        mine = Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING, claimed_by=token)
        if not delivery.webhook.is_active:
            mine.update(
                status=Status.FAILED,
                claimed_at=None,
                last_error="The webhook was deactivated before this was sent.",
            )
            counts["failed"] += 1
            continue
        body = body_of(delivery)
        timestamp = str(int(time.time()))
        try:
            status, excerpt = post(
                url=delivery.webhook.url,
                body=body,
                headers=headers_for(delivery=delivery, body=body, timestamp=timestamp),
            )
        except SendFailed as error:
            counts[_record_failure(delivery=delivery, error=error)] += 1
            continue
        mine.update(
            status=Status.SENT,
            sent_at=timezone.now(),
            claimed_at=None,
            last_status_code=status,
            last_error="",
            response_excerpt=excerpt,
            next_attempt_at=None,
        )
        counts["sent"] += 1
    return counts


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: doubling, capped."""
    return min(
        conf("RELAY_WEBHOOKS_RETRY_BACKOFF") * 2 ** (attempts - 1),
        conf("RELAY_WEBHOOKS_RETRY_BACKOFF_MAX"),
    )


def _record_failure(*, delivery: Delivery, error: "SendFailed") -> str:
    from .services import enqueue_sending  # the services module enqueues this one's task

    mine = Delivery.objects.filter(
        pk=delivery.pk, status=Status.SENDING, claimed_by=delivery.claimed_by
    )
    fields = {
        "last_error": str(error),
        "last_status_code": error.status_code,
        "response_excerpt": error.excerpt,
        "claimed_at": None,
    }
    if delivery.attempts >= conf("RELAY_WEBHOOKS_MAX_ATTEMPTS"):
        mine.update(status=Status.FAILED, next_attempt_at=None, **fields)
        return "failed"
    delay = retry_delay(delivery.attempts)
    mine.update(
        status=Status.PENDING, next_attempt_at=timezone.now() + timedelta(seconds=delay), **fields
    )
    enqueue_sending(ids=[delivery.pk], countdown=delay)
    return "retry"


def sweep_unsent(*, now: datetime | None = None) -> int:
    """Enqueue deliveries nobody is sending: their message never reached the broker, a retry's
    message was lost, or the worker that claimed them died. Safe to run at any time."""
    from .services import enqueue_sending

    now = now or timezone.now()
    max_attempts = conf("RELAY_WEBHOOKS_MAX_ATTEMPTS")
    lease_expired = now - timedelta(seconds=conf("RELAY_WEBHOOKS_CLAIM_LEASE"))
    Delivery.objects.filter(
        status=Status.SENDING, claimed_at__lt=lease_expired, attempts__gte=max_attempts
    ).update(
        status=Status.FAILED,
        claimed_at=None,
        last_error="The worker stopped while sending, on every attempt.",
    )
    grace = now - timedelta(seconds=conf("RELAY_WEBHOOKS_SWEEP_GRACE"))
    stuck = Delivery.objects.filter(
        (
            Q(status=Status.PENDING)
            & (Q(next_attempt_at__isnull=True, created_at__lt=grace) | Q(next_attempt_at__lt=grace))
        )
        | Q(status=Status.SENDING, claimed_at__lt=lease_expired)
    ).filter(attempts__lt=max_attempts)
    ids = list(stuck.order_by("created_at").values_list("pk", flat=True))
    if ids:
        enqueue_sending(ids=ids)
    return len(ids)
