from datetime import timedelta

from django.utils import timezone

from apps.people.selectors import availability

from ..factories import TimeOffFactory, UserFactory


def test_available_person_has_no_reasons(db):
    result = availability(user=UserFactory())
    assert result.available and result.reasons == []


def test_away_person_is_not_available(db):
    result = availability(user=UserFactory(is_away=True))
    assert not result.available and result.reasons == ["away"]


def test_time_off_now_says_until_when(db):
    person = UserFactory()
    ends = timezone.now() + timedelta(days=3)
    TimeOffFactory(user=person, starts=timezone.now() - timedelta(days=1), ends=ends)
    result = availability(user=person)
    assert not result.available
    assert result.reasons == [f"on time off until {ends:%Y-%m-%d}"]


def test_past_or_future_time_off_does_not_count(db):
    person = UserFactory()
    now = timezone.now()
    TimeOffFactory(user=person, starts=now - timedelta(days=9), ends=now - timedelta(days=2))
    TimeOffFactory(user=person, starts=now + timedelta(days=2), ends=now + timedelta(days=9))
    assert availability(user=person).available
    assert not availability(user=person, at=now + timedelta(days=3)).available


def test_full_capacity_is_a_reason(db):
    person = UserFactory(capacity=2)
    person.active_count = 2
    result = availability(user=person)
    assert result.reasons == ["at capacity 2/2"]


def test_inactive_account_is_not_available(db):
    assert availability(user=UserFactory(is_active=False)).reasons == ["account inactive"]
