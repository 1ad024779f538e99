"""API: the caller's own notifications (the in-app inbox)."""

from datetime import datetime
from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema

from apps.notifications import selectors
from apps.notifications.models import Notification
from apps.notifications.services.inbox import mark_read

from .access import Id
from .errors import ERRORS

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: int
    kind: str
    task: int | None
    payload: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


def _out(n: Notification) -> dict:
    return {
        "id": n.pk,
        "kind": n.kind,
        "task": n.task_id,
        "payload": n.payload,
        "created_at": n.created_at,
        "read_at": n.read_at,
    }


@router.get(
    "notifications",
    response={200: list[NotificationOut], **ERRORS},
    summary="Your notifications, unread first",
)
def notification_list(request, unread: bool = Query(False), limit: int = Query(50, ge=1, le=100)):
    items = selectors.inbox(user=request.auth.user)
    if unread:
        items = items.filter(read_at__isnull=True)
    return [_out(n) for n in items[:limit]]


@router.post(
    "notifications/{notification_id}/read",
    response={200: NotificationOut, **ERRORS},
    summary="Mark one of your notifications read",
)
def notification_read(request, notification_id: Id):
    try:
        notification = selectors.own_notification(user=request.auth.user, pk=notification_id)
    except Notification.DoesNotExist:
        raise Http404(_("No notification #%(pk)d of yours.") % {"pk": notification_id}) from None
    mark_read(notification=notification)
    return _out(notification)
