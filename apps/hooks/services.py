"""Webhooks: registering them (leads only) and writing the deliveries that report events.

`emit_event()` is the outbox: it writes one `Delivery` per active hook of the team that asked
for the event, inside the caller's transaction, and only once that transaction commits asks
Celery to send them. A rolled-back change therefore reports nothing, and a committed one is
never lost: if the broker is down the delivery stays pending and the sweeper
(`sending.sweep_unsent`) enqueues it again.
"""

import json
import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import partial
from http import HTTPStatus

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.refusals import Forbidden, Refused
from apps.people import selectors as people
from apps.people.models import Team, User

from .conf import conf
from .models import Delivery, Event, Status, Webhook, new_secret
from .safety import UnsafeURL, check_url

logger = logging.getLogger(__name__)

EVENTS = [str(event) for event in Event]


class InvalidWebhook(Refused):
    """What a lead typed cannot be used (422); `field` names the form field it is about."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


def emit_event(*, team, event: str, payload: dict | Callable[[], dict]) -> list[Delivery]:
    """Write one delivery of `event` per active hook of `team` subscribed to it.

    `team` is a Team or its id. `payload` becomes the body's `data` (plain JSON; dates become
    ISO 8601 strings); it may be a function returning it, called only if a hook wants the
    event, so a team without hooks never pays for building it. Costs one query when no hook
    wants the event, one more to write the deliveries otherwise; the sending waits for the
    surrounding transaction to commit.
    """
    return emit_events(
        team=team, event=event, payloads=lambda: [payload() if callable(payload) else payload]
    )


def emit_events(*, team, event: str, payloads: Callable[[], Iterable[dict]]) -> list[Delivery]:
    """emit_event for many occurrences of one event at once (a batch of transitions): one
    query finds the hooks, one INSERT writes every delivery, one Celery message sends them."""
    if event not in EVENTS:
        raise ValueError(f"Unknown webhook event {event!r}.")
    team_id = getattr(team, "pk", team)
    hooks = [
        hook
        for hook in Webhook.objects.filter(team_id=team_id, is_active=True).select_related("team")
        if hook.wants(event)
    ]
    if not hooks:
        return []
    now = timezone.now()
    deliveries = []
    for data in payloads():
        data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
        for hook in hooks:
            delivery = Delivery(webhook=hook, event=event, created_at=now)
            delivery.payload = {
                "id": str(delivery.delivery_id),
                "event": event,
                "created_at": now.isoformat(),
                "team": {"id": hook.team.pk, "slug": hook.team.slug, "name": hook.team.name},
                "data": data,
            }
            deliveries.append(delivery)
    if not deliveries:
        return []
    created = Delivery.objects.bulk_create(deliveries)
    ids = [d.pk for d in created]
    if None in ids:  # a backend that does not return ids from a bulk insert
        ids = list(
            Delivery.objects.filter(
                delivery_id__in=[d.delivery_id for d in deliveries]
            ).values_list("pk", flat=True)
        )
    transaction.on_commit(partial(enqueue_sending, ids=ids), robust=True)
    return created


def enqueue_sending(*, ids: list[int], countdown: float | None = None) -> bool:
    """Ask a worker to send these deliveries. A broker that is down is logged, not raised: the
    deliveries are safe in the outbox and the sweeper enqueues them again once it is back."""
    from .tasks import deliver  # not at the top: the tasks module imports the services

    batch = conf("RELAY_WEBHOOKS_SWEEP_BATCH")
    try:
        for start in range(0, len(ids), batch):
            deliver.apply_async(
                args=[list(ids[start : start + batch])], countdown=countdown, retry=False
            )
    except Exception as error:  # kombu raises several unrelated types for "broker down"
        logger.warning(
            "Could not enqueue webhook deliveries %s (%s); the sweeper will.", ids, error
        )
        return False
    return True


# --- managing hooks (leads only) ---------------------------------------------------------------


def check_may_manage(*, team: Team, by: User) -> None:
    """Only the team's leads see and change its webhooks: the secrets sign what Relay says."""
    if not people.is_lead(team_id=team.pk, user=by):
        raise Forbidden(_("Only a lead of %(team)s can manage its webhooks.") % {"team": team.name})


def _clean(*, url: str, events: list[str]) -> tuple[str, list[str]]:
    url = (url or "").strip()
    if not url:
        raise InvalidWebhook(_("Give the URL that receives the webhooks."), field="url")
    if len(url) > Webhook._meta.get_field("url").max_length:
        raise InvalidWebhook(_("The URL is too long (500 characters at most)."), field="url")
    try:
        check_url(url)
    except UnsafeURL as error:
        raise InvalidWebhook(str(error), field="url") from None
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise InvalidWebhook(
            _("Unknown event: %(names)s.") % {"names": ", ".join(unknown)}, field="events"
        )
    if not events:
        raise InvalidWebhook(_("Choose at least one event to send."), field="events")
    return url, [e for e in EVENTS if e in events]


@transaction.atomic
def create_webhook(
    *, team: Team, by: User, url: str, events: list[str], description: str = ""
) -> Webhook:
    """Register a URL for the chosen events; its signing secret is generated here."""
    check_may_manage(team=team, by=by)
    url, events = _clean(url=url, events=events)
    return Webhook.objects.create(
        team=team, url=url, events=events, description=description.strip()[:200], created_by=by
    )


@transaction.atomic
def update_webhook(
    *,
    webhook: Webhook,
    by: User,
    url: str,
    events: list[str],
    description: str = "",
    is_active: bool = True,
) -> Webhook:
    """Change where a hook sends, what it sends, or whether it sends at all. Deliveries already
    written keep their payload; they are sent to the URL the hook has when they go out."""
    check_may_manage(team=webhook.team, by=by)
    url, events = _clean(url=url, events=events)
    webhook.url, webhook.events = url, events
    webhook.description = description.strip()[:200]
    webhook.is_active = is_active
    webhook.save(update_fields=["url", "events", "description", "is_active", "updated_at"])
    return webhook


@transaction.atomic
def rotate_secret(*, webhook: Webhook, by: User) -> Webhook:
    """A new signing secret, used from the next attempt on (also for retries of old ones)."""
    check_may_manage(team=webhook.team, by=by)
    webhook.secret = new_secret()
    webhook.save(update_fields=["secret", "updated_at"])
    return webhook


@transaction.atomic
def delete_webhook(*, webhook: Webhook, by: User) -> None:
    """Remove the hook and its delivery log; anything still pending is not sent."""
    check_may_manage(team=webhook.team, by=by)
    webhook.delete()


@transaction.atomic
def redeliver(*, delivery: Delivery, by: User) -> Delivery:
    """Send a delivery again, whatever became of it: a new round of attempts, the same
    delivery id and payload (signed afresh, with a new timestamp)."""
    webhook = delivery.webhook
    check_may_manage(team=webhook.team, by=by)
    if not webhook.is_active:
        raise Refused(_("This webhook is inactive: activate it before redelivering."))
    now = timezone.now()
    lease = now - timedelta(seconds=conf("RELAY_WEBHOOKS_CLAIM_LEASE"))
    # Not while a worker is sending it: that would be the one duplicate the lease exists for.
    taken = (
        Delivery.objects.filter(pk=delivery.pk)
        .filter(~Q(status=Status.SENDING) | Q(claimed_at__lt=lease))
        .update(status=Status.PENDING, attempts=0, next_attempt_at=None, claimed_at=None)
    )
    if not taken:
        raise Refused(_("This delivery is being sent right now; look again in a moment."))
    delivery.refresh_from_db()
    transaction.on_commit(partial(enqueue_sending, ids=[delivery.pk]), robust=True)
    return delivery
