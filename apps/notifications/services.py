"""Writing notifications. Call inside the transaction of the change that causes them."""

from collections.abc import Iterable

from django.db import transaction

from .models import Kind, Notification


def notify(
    *,
    kind: Kind | str,
    recipients: Iterable,
    key: str,
    task=None,
    payload: dict | None = None,
) -> list[Notification]:
    """Write one outbox row per recipient; a repeated call with the same key writes nothing.

    `key` names the event (e.g. "assigned:task:12:log:40"); the recipient is appended, so one
    event reaches each person at most once.
    """
    created: list[Notification] = []
    seen: set[int] = set()
    for person in recipients:
        if person is None or person.pk in seen:
            continue
        seen.add(person.pk)
        row_key = f"{key}:to:{person.pk}"
        with transaction.atomic():
            notification, was_created = Notification.objects.get_or_create(
                key=row_key,
                defaults={
                    "recipient": person,
                    "kind": kind,
                    "task": task,
                    "payload": payload or {},
                },
            )
        if was_created:
            created.append(notification)
    return created
