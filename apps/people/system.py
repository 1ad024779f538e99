"""Relay's own actor: the user that automated steps act as, so their log says who did it.

"Relay automation" is an ordinary row of the user table under a reserved username, created
on first use (get_or_create: idempotent, and safe under a test database flush). It is
inactive with an unusable password, so nobody logs in as it; it belongs to no team, so it is
never a candidate for assignment; and apps.tasks.services keeps no capacity counter for it.
"""

from django.contrib.auth.hashers import make_password
from django.db import transaction

from .models import User

AUTOMATION_USERNAME = "relay-automation"


def is_automation(user: User | None) -> bool:
    """True for Relay automation (from the row in memory: no query)."""
    return user is not None and user.username == AUTOMATION_USERNAME and not user.is_active


@transaction.atomic
def automation_user() -> User:
    """The Relay automation user, created the first time it is needed."""
    user, _ = User.objects.get_or_create(
        username=AUTOMATION_USERNAME,
        defaults={
            "first_name": "Relay",
            "last_name": "automation",
            "is_active": False,
            "password": make_password(None),
        },
    )
    if user.is_active or user.has_usable_password():
        # A person created under the reserved name first: take it back, locked.
        user.is_active = False
        user.set_unusable_password()
        user.save(update_fields=["is_active", "password"])
    return user
