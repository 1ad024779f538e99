"""Available = active, not away, not on time off now, and below capacity; else the reasons.

Decided in one place, the assignment engine's candidates(), whose reasons the assignment
panel, the lead picker and waiting tasks all show.
"""

from datetime import timedelta

from django.utils import timezone

from apps.assignment.selectors import candidates

from ..factories import TimeOffFactory


def _reasons(task, person, at=None) -> list[str]:
    (candidate,) = candidates(task=task, user_id=person.pk, at=at)
    return candidate.reason_texts


def test_available_person_has_no_reasons(make_member, make_task):
    person = make_member()
    assert _reasons(make_task(), person) == []


def test_away_person_is_not_available(make_member, make_task):
    person = make_member(is_away=True)
    assert _reasons(make_task(), person) == ["away"]


def test_time_off_now_says_until_when(make_member, make_task):
    person = make_member()
    ends = timezone.now() + timedelta(days=3)
    TimeOffFactory(user=person, starts=timezone.now() - timedelta(days=1), ends=ends)
    assert _reasons(make_task(), person) == [f"on time off until {ends:%Y-%m-%d}"]


def test_past_or_future_time_off_does_not_count(make_member, make_task):
    person = make_member()
    now = timezone.now()
    TimeOffFactory(user=person, starts=now - timedelta(days=9), ends=now - timedelta(days=2))
    TimeOffFactory(user=person, starts=now + timedelta(days=2), ends=now + timedelta(days=9))
    task = make_task()
    assert _reasons(task, person) == []
    ends = now + timedelta(days=9)
    assert _reasons(task, person, at=now + timedelta(days=3)) == [
        f"on time off until {ends:%Y-%m-%d}"
    ]


def test_full_capacity_is_a_reason(make_member, make_task):
    person = make_member(capacity=2, active_count=2)
    assert _reasons(make_task(), person) == ["at capacity 2/2"]


def test_inactive_account_is_not_available(make_member, make_task):
    person = make_member(is_active=False)
    assert _reasons(make_task(), person) == ["account inactive"]
