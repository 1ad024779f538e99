"""auto_assign_pending(team): the whole backlog at once, as fair as one by one, within capacity."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_fsm_log.models import StateLog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.assignment.models import AssignmentDecision, Mode, WaitingTask
from apps.assignment.services import batch as batch_services
from apps.assignment.services.single import assign
from apps.core.refusals import Refused
from apps.hooks.models import Delivery, Webhook
from apps.notifications.models import Kind, Notification
from apps.people.models import Membership, PersonSkill, Role, Skill, Team, User
from apps.tasks import services as task_services
from apps.tasks.models import ACTIVE_STATES, State, Task


def test_a_member_may_not_auto_assign_the_backlog(make_person, ml_task, team, member):
    make_person("bob")
    task = ml_task()
    with pytest.raises(Refused, match="Only a lead can auto-assign") as refused:
        batch_services.auto_assign_pending(team=team, by=member)
    assert refused.value.status == HTTPStatus.FORBIDDEN
    task.refresh_from_db()
    assert task.state == State.TODO and task.assignee is None
    assert not AssignmentDecision.objects.exists()


def test_a_lead_auto_assigns_the_backlog(make_person, ml_task, team, lead):
    make_person("bob")
    ml_task()
    assert batch_services.auto_assign_pending(team=team, by=lead).assigned == 1


def test_batch_assigns_and_keeps_counters_logs_and_notifications(make_person, ml_task, team):
    ann, bob = make_person("ann"), make_person("bob")
    tasks = [ml_task(title=f"t{i}") for i in range(4)]
    result = batch_services.auto_assign_pending(team=team)
    assert result.assigned == 4 and result.waiting == 0
    ann.refresh_from_db()
    bob.refresh_from_db()
    assert (ann.active_count, bob.active_count) == (2, 2)
    for task in tasks:
        task.refresh_from_db()
        assert task.state == State.ASSIGNED
        assert StateLog.objects.for_(task).filter(transition="assign").count() == 1
        decision = AssignmentDecision.objects.get(task=task)
        assert decision.mode == Mode.BATCH and decision.assignee == task.assignee
    assert Notification.objects.filter(kind=Kind.ASSIGNED).count() == 4


def test_batch_reports_each_assignment_to_the_teams_webhooks(make_person, ml_task, team, settings):
    settings.RELAY_WEBHOOKS_ALLOW_PRIVATE = True
    hook = Webhook.objects.create(
        team=team, url="http://127.0.0.1:8831/x", events=["task.transitioned"]
    )
    make_person("ann")
    tasks = [ml_task(title=f"t{i}") for i in range(3)]
    batch_services.auto_assign_pending(team=team)
    reported = [d.payload["data"] for d in Delivery.objects.filter(webhook=hook)]
    assert sorted(d["task"]["id"] for d in reported) == sorted(t.pk for t in tasks)
    assert {(d["transition"]["name"], d["task"]["assignee"]["username"]) for d in reported} == {
        ("assign", "ann")
    }


def test_batch_follows_priority_then_due_date(make_person, ml_task, team):
    bob = make_person("bob", capacity=1)
    soon = timezone.now() + timedelta(days=1)
    ml_task(title="low", priority=1)
    ml_task(title="normal later", priority=2, due_at=soon + timedelta(days=5))
    ml_task(title="normal soon", priority=2, due_at=soon)
    batch_services.auto_assign_pending(team=team)
    assert Task.objects.get(assignee=bob).title == "normal soon"


def test_batch_marks_the_rest_waiting_with_reasons(make_person, ml_task, team, lead):
    bob = make_person("bob", capacity=1)
    ml_task(title="first", priority=3)
    second = ml_task(title="second", priority=1)
    result = batch_services.auto_assign_pending(team=team)
    assert (result.assigned, result.waiting) == (1, 1)
    waiting = WaitingTask.objects.get(task=second)
    assert [bob.display_name, ["at capacity 1/1"]] in waiting.reasons["people"]
    assert Notification.objects.get(kind=Kind.UNASSIGNABLE).recipient == lead


def test_batch_respects_the_excluded_author_of_a_waiting_review(
    make_person, review_skill, make_task, team
):
    author = make_person("author", skill_=review_skill, level=5)
    review = make_task(required_skill=review_skill, min_level=1)
    assign(task=review, exclude=[author])
    batch_services.auto_assign_pending(team=team)
    review.refresh_from_db()
    assert review.state == State.TODO


def test_batch_never_touches_unavailable_people(make_person, ml_task, team):
    make_person("away", is_away=True)
    make_person("low", level=1)
    able = make_person("able", capacity=2)
    for i in range(4):
        ml_task(title=f"t{i}")
    batch_services.auto_assign_pending(team=team)
    assert set(Task.objects.exclude(assignee=None).values_list("assignee", flat=True)) == {able.pk}


def test_auto_assign_command(make_person, ml_task, team, capsys):
    make_person("bob")
    ml_task()
    call_command("auto_assign", team=team.slug)
    assert "1 assigned, 0 waiting" in capsys.readouterr().out


@pytest.mark.parametrize("people", [4, 40])
def test_batch_query_count_does_not_grow_with_team(
    people, team, skill, ml_task, django_assert_max_num_queries
):
    for i in range(people):
        user = User.objects.create(username=f"u{i}", capacity=2)
        Membership.objects.create(team=team, user=user)
        PersonSkill.objects.create(user=user, skill=skill, level=3)
    for i in range(30):
        ml_task(title=f"t{i}")
    # The log rows' content type is looked up once per process, then cached: warm it, or the
    # count depends on which test ran first in this worker.
    ContentType.objects.get_for_model(Task)
    # (one of them reads the team's webhooks, once for the whole batch)
    with django_assert_max_num_queries(21):
        result = batch_services.auto_assign_pending(team=team)
    assert result.assigned == min(30, people * 2)


# --- property: batch == one by one, never over capacity -------------------------------------

person_st = st.fixed_dictionaries(
    {
        "capacity": st.integers(1, 4),
        "active": st.integers(0, 4),
        "level": st.integers(0, 5),
        "away": st.booleans(),
    }
)
task_st = st.fixed_dictionaries(
    {
        "skill": st.booleans(),
        "min_level": st.integers(1, 5),
        "priority": st.integers(1, 4),
        "due_in": st.one_of(st.none(), st.integers(1, 5)),
    }
)


def build(people, tasks):
    team = Team.objects.create(name="Property", slug="property")
    lead = User.objects.create(username="lead", capacity=0)
    Membership.objects.create(team=team, user=lead, role=Role.LEAD)
    skill = Skill.objects.create(slug="s", name="S")
    for i, p in enumerate(people):
        user = User.objects.create(
            username=f"p{i}",
            capacity=p["capacity"],
            active_count=min(p["active"], p["capacity"]),
            is_away=p["away"],
        )
        Membership.objects.create(team=team, user=user)
        if p["level"]:
            PersonSkill.objects.create(user=user, skill=skill, level=p["level"])
    now = timezone.now()
    for i, t in enumerate(tasks):
        task_services.create_task(
            team=team,
            title=f"t{i}",
            by=lead,
            required_skill=skill if t["skill"] else None,
            min_level=t["min_level"] if t["skill"] else 1,
            priority=t["priority"],
            due_at=now + timedelta(days=t["due_in"]) if t["due_in"] else None,
        )
    return team


def outcome(team):
    loads = dict(
        User.objects.filter(memberships__team=team).values_list("username", "active_count")
    )
    assigned = dict(
        Task.objects.filter(team=team)
        .exclude(assignee=None)
        .values_list("title", "assignee__username")
    )
    return loads, assigned


def assert_within_capacity(team):
    for user in User.objects.filter(memberships__team=team):
        assert user.active_count <= user.capacity
        held = Task.objects.filter(assignee=user, state__in=ACTIVE_STATES).count()
        assert held <= user.active_count


@pytest.mark.django_db
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(people=st.lists(person_st, min_size=1, max_size=6), tasks=st.lists(task_st, max_size=14))
def test_batch_equals_one_by_one_and_never_exceeds_capacity(people, tasks):
    with transaction.atomic():
        team = build(people, tasks)
        point = transaction.savepoint_create()
        batch_services.auto_assign_pending(team=team)
        assert_within_capacity(team)
        batch = outcome(team)
        transaction.savepoint_rollback(point)

        # One by one, in the order the batch promises: priority, then due date (none last).
        ordered = sorted(
            Task.objects.filter(team=team, state=State.TODO),
            key=lambda t: (-t.priority, t.due_at is None, t.due_at or 0, t.created_at, t.pk),
        )
        for task in ordered:
            assign(task=task)
            assert_within_capacity(team)
        one_by_one = outcome(team)
        transaction.set_rollback(True)
    assert batch[0] == one_by_one[0]  # same load for every person: same fairness
    assert batch[1] == one_by_one[1]  # and, the ranking being deterministic, the same choices


def test_batch_counter_update_is_refereed_by_the_database(make_person, ml_task, team, monkeypatch):
    """Someone takes the last slot between the batch's read and its write: the bulk counter
    update is refused by the CheckConstraint, and the batch is recomputed from fresh loads."""
    bob = make_person("bob", capacity=1)
    task = ml_task()
    real_write = batch_services._write_batch
    calls = []

    def write_after_a_rival(**kwargs):
        if not calls:
            User.objects.filter(pk=bob.pk).update(active_count=1)  # the rival's assignment
        calls.append(1)
        return real_write(**kwargs)

    monkeypatch.setattr(batch_services, "_write_batch", write_after_a_rival)
    result = batch_services.auto_assign_pending(team=team)
    assert result.attempts == 2
    bob.refresh_from_db()
    assert bob.active_count <= bob.capacity
    task.refresh_from_db()
    assert task.state == State.ASSIGNED and task.assignee == bob


def test_batch_notifications_follow_preferences_and_are_emailed_after_commit(
    make_person, ml_task, team, mailoutbox, django_capture_on_commit_callbacks
):
    from apps.notifications.models import Channel, EmailStatus
    from apps.notifications.services.inbox import update_preferences

    ann, bob = make_person("ann"), make_person("bob")
    update_preferences(
        user=bob,
        time_zone="UTC",
        digest_hour=8,
        digest_enabled=True,
        channels={Kind.ASSIGNED: Channel.OFF},
    )
    for i in range(4):
        ml_task(title=f"t{i}")
    with django_capture_on_commit_callbacks(execute=True):
        batch_services.auto_assign_pending(team=team)
    statuses = dict(
        Notification.objects.filter(kind=Kind.ASSIGNED)
        .values_list("recipient__username", "email_status")
        .distinct()
    )
    assert statuses == {"ann": EmailStatus.SENT, "bob": EmailStatus.SKIPPED}
    assert {m.to[0] for m in mailoutbox} == {ann.email}
    assert len(mailoutbox) == 2
