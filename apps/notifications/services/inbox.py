"""What people do with their notifications in the app: read them, choose how they arrive."""

from django.utils import timezone

from ..models import CHOOSABLE_KINDS, Notification, NotificationSettings


def mark_read(*, notification: Notification) -> None:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )


def mark_all_read(*, user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def update_preferences(
    *,
    user,
    time_zone: str,
    digest_hour: int,
    digest_enabled: bool,
    channels: dict[str, str],
) -> NotificationSettings:
    """Save a person's choices (the form has validated them)."""
    known = {str(kind) for kind in CHOOSABLE_KINDS}
    prefs, _ = NotificationSettings.objects.update_or_create(
        user=user,
        defaults={
            "time_zone": time_zone,
            "digest_hour": digest_hour,
            "digest_enabled": digest_enabled,
            "channels": {k: v for k, v in channels.items() if k in known},
        },
    )
    return prefs
