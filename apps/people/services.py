"""Changes people make to themselves: whether they are away, the time off they book.

Every change that can make someone able to take work again ends in `availability_changed`,
sent once the change has committed (the admin's saves call the same function), so assignment
retries the tasks waiting for someone.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.refusals import Forbidden, Refused

from .models import TimeOff, User
from .signals import availability_changed

MAX_TIME_OFF_DAYS = 366


def announce_availability_changed(*, user: User) -> None:
    """Tell the apps above (assignment) after the surrounding transaction commits."""
    transaction.on_commit(lambda: availability_changed.send(sender=User, user=user))


@transaction.atomic
def set_away(*, user: User, is_away: bool) -> User:
    """Mark oneself away (offered no new work) or back."""
    if user.is_away != is_away:
        User.objects.filter(pk=user.pk).update(is_away=is_away)
        user.is_away = is_away
        announce_availability_changed(user=user)
    return user


@transaction.atomic
def book_time_off(*, user: User, starts: datetime, ends: datetime, reason: str = "") -> TimeOff:
    """Book time off for oneself: while it runs, no new work is offered."""
    if ends <= starts:
        raise Refused(_("Time off must end after it starts."))
    if ends <= timezone.now():
        raise Refused(_("That time off is already over; book time off that ends in the future."))
    if (ends - starts).days > MAX_TIME_OFF_DAYS:
        raise Refused(_("Book at most a year of time off at once."))
    time_off = TimeOff.objects.create(user=user, starts=starts, ends=ends, reason=reason)
    announce_availability_changed(user=user)
    return time_off


@transaction.atomic
def cancel_time_off(*, time_off: TimeOff, by: User) -> None:
    """Cancel one's own booked time off (back earlier than planned, or plans changed)."""
    if time_off.user_id != by.pk:
        raise Forbidden(_("You can only cancel your own time off."))
    time_off.delete()
    announce_availability_changed(user=by)
