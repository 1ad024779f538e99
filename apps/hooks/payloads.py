"""Pieces every webhook payload shares, so each event says a person or a link the same way."""

from django.conf import settings


def absolute(path: str) -> str:
    """A site path as the receiver can open it (SITE_URL + path)."""
    return f"{settings.SITE_URL}{path}"


def person(user) -> dict | None:
    """Who, without their e-mail address: id, username and the name Relay shows."""
    if user is None:
        return None
    return {"id": user.pk, "username": user.username, "name": user.display_name}


def when(moment) -> str | None:
    return moment.isoformat() if moment else None
