"""Reads about notifications: the inbox, the unread count, who is due a digest."""

from datetime import datetime
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, QuerySet

from .models import EmailStatus, Kind, Notification, NotificationSettings


def unread_count(*, user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def inbox(*, user) -> QuerySet[Notification]:
    """A person's notifications, unread first, newest first within each group."""
    return (
        Notification.objects.filter(recipient=user)
        .select_related("task")
        .order_by(F("read_at").desc(nulls_first=True), "-created_at", "-id")
    )


def own_notification(*, user, pk: int) -> Notification:
    """One of the person's own notifications; anyone else's is a 404 (DoesNotExist)."""
    return Notification.objects.get(recipient=user, pk=pk)


def preferences_for(*, user) -> NotificationSettings:
    """The person's saved settings, or unsaved defaults if they never changed any."""
    return NotificationSettings.objects.filter(user=user).first() or NotificationSettings(user=user)


def received_since(*, user, since: datetime) -> QuerySet[Notification]:
    """What a person was told since `since`, newest first; digests themselves left out."""
    return (
        Notification.objects.filter(recipient=user, created_at__gte=since)
        .exclude(kind=Kind.DIGEST)
        .order_by("-created_at", "-id")
    )


class DueDigest(NamedTuple):
    person: AbstractBaseUser
    key: str  # the event key to notify() with: one digest per person per local day
    local: datetime  # `now` in the person's time zone


def digests_due(*, now: datetime) -> list[DueDigest]:
    """Everyone whose chosen digest hour has come in their time zone and who has not had
    today's digest yet. Keyed by the person's local date, so a second run (or a missed hour
    caught up later the same day) finds nobody twice. Three queries at most."""
    people = get_user_model().objects.filter(is_active=True).exclude(email="")
    saved = {s.user_id: s for s in NotificationSettings.objects.filter(user__in=people)}
    due: dict[str, DueDigest] = {}
    for person in people:
        prefs = saved.get(person.pk) or NotificationSettings(user=person)
        if not prefs.digest_enabled:
            continue
        local = now.astimezone(prefs.zone)
        if local.hour < prefs.digest_hour:
            continue
        key = f"digest:user:{person.pk}:day:{local.date().isoformat()}"
        due[f"{key}:to:{person.pk}"] = DueDigest(person=person, key=key, local=local)
    written = set(Notification.objects.filter(key__in=due).values_list("key", flat=True))
    return [digest for row_key, digest in due.items() if row_key not in written]


def oldest_undelivered_at() -> datetime | None:
    """When the oldest notification still waiting for its e-mail (pending, or claimed by a
    worker that has not finished) was written; None if nothing waits. One query on the
    undelivered rows' partial index, so the health check stays cheap with a large outbox."""
    return (
        Notification.objects.filter(email_status__in=[EmailStatus.PENDING, EmailStatus.SENDING])
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
