"""Webhooks: registering them (leads only) and writing the deliveries that report events.

`emit_event()` is the outbox: it writes one `Delivery` per active hook of the team that asked
for the event, inside the caller's transaction, and only once that transaction commits asks
Celery to send them. A rolled-back change therefore reports nothing, and a committed one is
never lost: if the broker is down the delivery stays pending and the sweeper
(`sending.sweep_unsent`) enqueues it again.
"""

import json
import logging
from functools import partial

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from .conf import conf
from .models import Delivery, Event, Webhook

logger = logging.getLogger(__name__)

EVENTS = [str(event) for event in Event]


def emit_event(*, team, event: str, payload: dict) -> list[Delivery]:
    """Write one delivery of `event` per active hook of `team` subscribed to it.

    `team` is a Team or its id. `payload` becomes the body's `data` (plain JSON; dates become
    ISO 8601 strings). Costs one query when no hook wants the event, one more to write the
    deliveries otherwise; the sending waits for the surrounding transaction to commit.
    """
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
    data = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    deliveries = [Delivery(webhook=hook, event=event, created_at=now) for hook in hooks]
    for delivery, hook in zip(deliveries, hooks, strict=True):
        delivery.payload = {
            "id": str(delivery.delivery_id),
            "event": event,
            "created_at": now.isoformat(),
            "team": {"id": hook.team.pk, "slug": hook.team.slug, "name": hook.team.name},
            "data": data,
        }
    created = Delivery.objects.bulk_create(deliveries)
    ids = [d.pk for d in created]
    if ids[0] is None:  # a backend that does not return ids from a bulk insert
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
