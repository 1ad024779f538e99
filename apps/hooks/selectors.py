"""Reading webhooks: always within one team (the caller has checked the viewer leads it)."""

from django.db.models import Count, Max, Q, QuerySet

from apps.people.models import Team, User
from apps.people.selectors import teams_for

from .models import Delivery, Status, Webhook

DELIVERY_LOG_LENGTH = 50


def team_for(*, user: User, team_slug: str) -> Team | None:
    """The viewer's team by slug; None for a team they are not on (a 404, not a 403)."""
    return teams_for(user=user).filter(slug=team_slug).first()


def webhooks_of(*, team: Team) -> QuerySet[Webhook]:
    return Webhook.objects.filter(team=team).annotate(
        failed_count=Count("deliveries", filter=Q(deliveries__status=Status.FAILED)),
        pending_count=Count(
            "deliveries", filter=Q(deliveries__status__in=[Status.PENDING, Status.SENDING])
        ),
        last_delivery_at=Max("deliveries__created_at"),
    )


def webhook_of(*, team: Team, pk: int) -> Webhook | None:
    return Webhook.objects.filter(team=team, pk=pk).select_related("team", "created_by").first()


def delivery_log(*, webhook: Webhook) -> list[Delivery]:
    """The hook's latest deliveries, newest first."""
    return list(
        Delivery.objects.filter(webhook=webhook).order_by("-created_at", "-id")[
            :DELIVERY_LOG_LENGTH
        ]
    )


def delivery_of(*, webhook: Webhook, pk: int) -> Delivery | None:
    return Delivery.objects.filter(webhook=webhook, pk=pk).select_related("webhook__team").first()
