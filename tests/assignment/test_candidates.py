"""candidates(task): every member, eligible or not, with why, ranked by the stated order."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.assignment.selectors import best_candidates, candidates
from apps.people.models import User

from ..factories import MembershipFactory, PersonSkillFactory, TimeOffFactory, UserFactory


def by_name(ranked):
    return {c.user.username: c for c in ranked}


def set_load(user, active, capacity=None):
    User.objects.filter(pk=user.pk).update(
        active_count=active, **({"capacity": capacity} if capacity is not None else {})
    )


def test_every_team_member_is_listed(make_person, ml_task, lead):
    make_person("ann")
    make_person("bob", level=None)
    names = {c.user.username for c in candidates(task=ml_task())}
    assert names == {"ann", "bob", "leo"}


def test_reason_lacks_skill(make_person, ml_task):
    make_person("bob", level=None)
    assert by_name(candidates(task=ml_task()))["bob"].reason_texts == ["lacks skill ML"]


def test_reason_level_too_low(make_person, ml_task):
    make_person("bob", level=2)
    reasons = by_name(candidates(task=ml_task(min_level=3)))["bob"].reason_texts
    assert reasons == ["has ML at level 2 < 3 required"]


def test_reason_away(make_person, ml_task):
    make_person("bob", is_away=True)
    assert by_name(candidates(task=ml_task()))["bob"].reason_texts == ["away"]


def test_reason_time_off_until(make_person, ml_task):
    bob = make_person("bob")
    ends = timezone.now() + timedelta(days=2)
    TimeOffFactory(user=bob, starts=timezone.now() - timedelta(hours=1), ends=ends)
    reasons = by_name(candidates(task=ml_task()))["bob"].reason_texts
    assert reasons == [f"on time off until {timezone.localtime(ends):%Y-%m-%d}"]


def test_reason_at_capacity(make_person, ml_task):
    bob = make_person("bob")
    set_load(bob, 3)
    assert by_name(candidates(task=ml_task()))["bob"].reason_texts == ["at capacity 3/3"]


def test_reason_author_of_work_under_review(make_person, ml_task):
    bob = make_person("bob")
    reasons = by_name(candidates(task=ml_task(), exclude=[bob]))["bob"].reason_texts
    assert reasons == ["is the author of the work under review"]


def test_several_reasons_are_all_given(make_person, ml_task):
    bob = make_person("bob", level=1, is_away=True)
    set_load(bob, 3)
    reasons = by_name(candidates(task=ml_task()))["bob"].reason_texts
    assert reasons == ["has ML at level 1 < 3 required", "away", "at capacity 3/3"]


def test_eligible_person_has_no_reasons_and_a_rank(make_person, ml_task):
    make_person("ann")
    ann = by_name(candidates(task=ml_task()))["ann"]
    assert ann.eligible and ann.reasons == [] and ann.rank == 1


def test_eligible_people_come_before_ineligible(make_person, ml_task):
    make_person("aaa", level=None)
    make_person("zed")
    ranked = candidates(task=ml_task())
    assert ranked[0].user.username == "zed"
    assert [c.eligible for c in ranked] == sorted((c.eligible for c in ranked), reverse=True)


def test_lower_load_ratio_ranks_first(make_person, ml_task):
    busy, idle = make_person("busy", level=5), make_person("idle", level=3)
    set_load(busy, 2, capacity=4)  # 0.5
    set_load(idle, 1, capacity=4)  # 0.25
    assert [c.user.username for c in candidates(task=ml_task()) if c.eligible] == ["idle", "busy"]


def test_load_ratio_not_raw_count_decides(make_person, ml_task):
    big, small = make_person("big"), make_person("small")
    set_load(big, 2, capacity=8)  # 0.25
    set_load(small, 1, capacity=2)  # 0.5
    assert [c.user.username for c in candidates(task=ml_task()) if c.eligible] == ["big", "small"]


def test_equal_load_higher_level_ranks_first(make_person, ml_task):
    make_person("mid", level=3)
    make_person("top", level=5)
    assert [c.user.username for c in candidates(task=ml_task()) if c.eligible] == ["top", "mid"]


def test_equal_load_and_level_least_recently_assigned_first(make_person, ml_task):
    recent, earlier, never = make_person("recent"), make_person("earlier"), make_person("never")
    now = timezone.now()
    User.objects.filter(pk=recent.pk).update(last_assigned_at=now)
    User.objects.filter(pk=earlier.pk).update(last_assigned_at=now - timedelta(hours=1))
    order = [c.user.username for c in candidates(task=ml_task()) if c.eligible]
    assert order == [never.username, earlier.username, recent.username]


def test_ranking_is_deterministic_for_equal_inputs(make_person, ml_task):
    for name in ["c", "a", "b"]:
        make_person(name)
    task = ml_task()
    first = [c.user.pk for c in candidates(task=task) if c.eligible]
    assert first == [c.user.pk for c in candidates(task=task) if c.eligible]
    assert first == sorted(first)  # fully equal people fall back to id order


def test_task_without_skill_only_checks_availability(make_person, make_task):
    make_person("bob", level=None)
    assert by_name(candidates(task=make_task()))["bob"].eligible


@pytest.mark.parametrize("team_size", [5, 60])
def test_candidates_query_count_does_not_grow_with_team(
    team_size, team, skill, ml_task, django_assert_max_num_queries
):
    for _ in range(team_size):
        user = UserFactory()
        MembershipFactory(team=team, user=user)
        PersonSkillFactory(user=user, skill=skill, level=3)
        TimeOffFactory(
            user=user,
            starts=timezone.now() - timedelta(days=1),
            ends=timezone.now() + timedelta(days=1),
        )
    task = ml_task()
    with django_assert_max_num_queries(1):
        ranked = candidates(task=task)
    assert len(ranked) == team_size + 1


def test_database_ranking_matches_the_full_ranking(make_person, ml_task):
    """best_candidates (SQL, used to auto-assign) orders the eligible exactly as candidates()."""
    now = timezone.now()
    for i, (active, capacity, level, hours_ago) in enumerate(
        [(1, 3, 3, 2), (2, 6, 3, 1), (1, 3, 5, 5), (0, 2, 3, None), (1, 3, 3, 3), (2, 4, 4, 1)]
    ):
        user = make_person(f"p{i}", level=level)
        User.objects.filter(pk=user.pk).update(
            active_count=active,
            capacity=capacity,
            last_assigned_at=now - timedelta(hours=hours_ago) if hours_ago else None,
        )
    make_person("off", level=5, is_away=True)
    task = ml_task()
    full = [c.user.pk for c in candidates(task=task) if c.eligible]
    assert [c.user.pk for c in best_candidates(task=task, limit=10)] == full
