"""assign(task, person=None, by): who may get work, stored decisions, overrides, waiting tasks."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone
from django_fsm_log.models import StateLog

from apps.assignment import selectors
from apps.assignment.models import AssignmentDecision, Mode, WaitingTask
from apps.assignment.services.retries import capacity_changed
from apps.assignment.services.single import assign, assign_with_decision
from apps.notifications.models import Kind, Notification
from apps.people.models import Role, User
from apps.tasks import services as task_services
from apps.tasks.models import State, Task
from apps.tasks.services import TaskActionRefused

from ..factories import (
    MembershipFactory,
    PersonSkillFactory,
    TeamFactory,
    TimeOffFactory,
    UserFactory,
)


def fill(user):
    User.objects.filter(pk=user.pk).update(active_count=user.capacity)


# --- only available and skilled people get work ------------------------------------------------


def test_auto_never_picks_the_unskilled_or_unavailable(make_person, ml_task):
    make_person("noskill", level=None)
    make_person("low", level=2)
    make_person("away", is_away=True)
    full = make_person("full")
    fill(full)
    off = make_person("off")
    TimeOffFactory(user=off, starts=timezone.now(), ends=timezone.now() + timedelta(days=1))
    able = make_person("able")
    task = assign(task=ml_task())
    assert task.assignee == able


def test_auto_with_nobody_eligible_leaves_task_todo(make_person, ml_task):
    make_person("noskill", level=None)
    task = ml_task()
    assert assign(task=task) is None
    task.refresh_from_db()
    assert task.state == State.TODO and task.assignee is None


@pytest.mark.parametrize(
    "fields, level", [({}, None), ({}, 2), ({"is_away": True}, 3)], ids=["none", "low", "away"]
)
def test_by_hand_the_ineligible_are_refused_with_the_reason(
    make_person, ml_task, lead, fields, level
):
    bob = make_person("bob", level=level, **fields)
    task = ml_task()
    with pytest.raises(TaskActionRefused, match="can't take this task"):
        assign(task=task, person=bob, by=lead)
    task.refresh_from_db()
    assert task.state == State.TODO and not AssignmentDecision.objects.exists()


def test_member_takes_a_task_for_themselves(make_person, ml_task):
    bob = make_person("bob")
    task = assign(task=ml_task(), person=bob, by=bob)
    assert task.assignee == bob and task.state == State.ASSIGNED


def test_member_cannot_assign_someone_else(make_person, ml_task):
    bob, ann = make_person("bob"), make_person("ann")
    with pytest.raises(TaskActionRefused, match="Only a lead"):
        assign(task=ml_task(), person=ann, by=bob)


def test_outsider_cannot_be_assigned(ml_task, lead, outsider):
    with pytest.raises(TaskActionRefused, match="not a member"):
        assign(task=ml_task(), person=outsider, by=lead)


# --- overrides ---------------------------------------------------------------------------------


def test_lead_may_override_availability_and_it_is_logged(make_person, ml_task, lead, caplog):
    bob = make_person("bob", is_away=True)
    task = assign(task=ml_task(), person=bob, by=lead, override=True)
    assert task.assignee == bob
    decision = AssignmentDecision.objects.get(task=task)
    assert decision.overrode == ["away"] and decision.by == lead
    assert decision.score is None  # not ranked: ineligible but for the override
    assert "availability override" in caplog.text
    log = StateLog.objects.for_(task).get(transition="assign")
    assert "Lead override of availability: away" in log.description


def test_refusal_tells_a_lead_availability_may_be_overridden(make_person, ml_task, lead):
    bob = make_person("bob", is_away=True)
    with pytest.raises(TaskActionRefused, match="you may override availability"):
        assign(task=ml_task(), person=bob, by=lead)


def test_lead_cannot_override_capacity(make_person, ml_task, lead):
    bob = make_person("bob")
    fill(bob)
    with pytest.raises(TaskActionRefused, match="at capacity 3/3"):
        assign(task=ml_task(), person=bob, by=lead, override=True)
    bob.refresh_from_db()
    assert bob.active_count == 3


def test_lead_cannot_override_missing_skill(make_person, ml_task, lead):
    bob = make_person("bob", level=None)
    with pytest.raises(TaskActionRefused, match="lacks skill"):
        assign(task=ml_task(), person=bob, by=lead, override=True)


def test_member_cannot_override_their_own_time_off(make_person, ml_task):
    bob = make_person("bob")
    TimeOffFactory(user=bob, starts=timezone.now(), ends=timezone.now() + timedelta(days=1))
    with pytest.raises(TaskActionRefused, match="time off"):
        assign(task=ml_task(), person=bob, by=bob, override=True)


# --- decisions ----------------------------------------------------------------------------------


def test_auto_decision_stores_who_score_and_ranked_top_five(make_person, ml_task):
    people = [make_person(f"p{i}") for i in range(7)]
    task = assign(task=ml_task())
    decision = AssignmentDecision.objects.get(task=task)
    assert decision.mode == Mode.AUTO and decision.by is None
    assert decision.assignee == task.assignee == people[0]
    assert decision.score == 100.0
    assert len([r for r in decision.ranked if r["eligible"]]) == 5
    assert decision.ranked[0]["user_id"] == people[0].pk
    assert decision.ranked[0]["reasons"] == []


def test_decision_keeps_why_each_other_person_could_not_take_it(make_person, ml_task):
    make_person("able")
    away = make_person("wanderer", is_away=True)
    full = make_person("busy", capacity=1)
    assign(task=ml_task(), person=full)
    task = assign(task=ml_task())
    reasons = {r["name"]: r["reasons"] for r in AssignmentDecision.objects.get(task=task).ranked}
    assert reasons[away.display_name] == ["away"]
    assert reasons[full.display_name] == ["at capacity 1/1"]


def test_manual_decision_records_who_assigned(make_person, ml_task, lead):
    bob = make_person("bob")
    task = assign(task=ml_task(), person=bob, by=lead)
    decision = AssignmentDecision.objects.get(task=task)
    assert decision.mode == Mode.MANUAL and decision.by == lead and decision.assignee == bob


def test_ties_rotate_between_equal_people(make_person, ml_task, lead):
    ann, bob = make_person("ann", capacity=5), make_person("bob", capacity=5)
    winners = []
    for _ in range(4):
        task = assign(task=ml_task())
        winners.append(task.assignee.username)
        task_services.start(task=task, by=task.assignee)
        task_services.complete(task=task, by=task.assignee)
    assert winners == [ann.username, bob.username, ann.username, bob.username]


def test_author_of_reviewed_work_is_never_the_reviewer(make_person, review_skill, make_task):
    author = make_person("author", skill_=review_skill, level=5)
    other = make_person("other", skill_=review_skill, level=1)
    review = make_task(required_skill=review_skill, min_level=1)
    assert assign(task=review, exclude=[author]).assignee == other


def test_only_the_author_able_to_review_means_waiting(make_person, review_skill, make_task):
    author = make_person("author", skill_=review_skill, level=5)
    review = make_task(required_skill=review_skill, min_level=1)
    assert assign(task=review, exclude=[author]) is None
    assert WaitingTask.objects.get(task=review).excluded == [author.pk]


# --- unassignable ---------------------------------------------------------------------------------


def test_unassignable_task_keeps_reasons_and_tells_leads(make_person, ml_task, lead):
    bob = make_person("bob", level=1)
    task = ml_task()
    assign(task=task)
    waiting = WaitingTask.objects.get(task=task)
    assert [bob.display_name, ["has ML at level 1 < 3 required"]] in waiting.reasons["people"]
    note = Notification.objects.get(kind=Kind.UNASSIGNABLE)
    assert note.recipient == lead and note.task == task


def test_retrying_an_unassignable_task_does_not_notify_again(make_person, ml_task, lead):
    task = ml_task()
    assign(task=task)
    assign(task=task)
    assert Notification.objects.filter(kind=Kind.UNASSIGNABLE).count() == 1


def test_assigning_a_waiting_task_by_hand_clears_the_flag(make_person, ml_task, lead):
    task = ml_task()
    assign(task=task)
    bob = make_person("bob")
    assign(task=task, person=bob, by=lead)
    assert not WaitingTask.objects.filter(task=task).exists()


def test_assigning_a_task_that_is_not_todo_is_refused(make_person, ml_task):
    bob = make_person("bob")
    task = assign(task=ml_task())
    with pytest.raises(TaskActionRefused, match="Can't assign a task that is Assigned"):
        assign(task=task)
    task.refresh_from_db()
    bob.refresh_from_db()
    assert (task.assignee, bob.active_count) == (bob, 1)
    assert AssignmentDecision.objects.filter(task=task).count() == 1


# --- retries when people free up ---------------------------------------------------------------


def test_finishing_a_task_assigns_the_waiting_one(make_person, ml_task):
    bob = make_person("bob", capacity=1)
    first = assign(task=ml_task(title="first"))
    waiting = ml_task(title="second")
    assert assign(task=waiting) is None
    task_services.start(task=first, by=bob)
    task_services.complete(task=first, by=bob)
    waiting.refresh_from_db()
    assert waiting.assignee == bob and waiting.state == State.ASSIGNED
    assert not WaitingTask.objects.exists()


@pytest.mark.parametrize("verb", ["cancel", "unassign", "hold"])
def test_other_ways_of_freeing_capacity_assign_the_waiting_one(make_person, ml_task, lead, verb):
    bob = make_person("bob", capacity=1)
    first = assign(task=ml_task(title="first"))
    waiting = ml_task(title="second")
    assign(task=waiting)
    getattr(task_services, verb)(task=first, by=lead)
    waiting.refresh_from_db()
    assert waiting.assignee == bob


def test_raising_capacity_assigns_the_waiting_one(make_person, ml_task):
    bob = make_person("bob", capacity=1)
    assign(task=ml_task(title="first"))
    waiting = ml_task(title="second")
    assign(task=waiting)
    User.objects.filter(pk=bob.pk).update(capacity=2)
    capacity_changed(user=bob)
    waiting.refresh_from_db()
    assert waiting.assignee == bob


def test_time_off_starting_makes_a_person_ineligible(make_person, ml_task):
    bob = make_person("bob")
    TimeOffFactory(
        user=bob,
        starts=timezone.now() - timedelta(minutes=1),
        ends=timezone.now() + timedelta(days=3),
    )
    assert assign(task=ml_task()) is None


def test_time_off_ending_lets_the_sweep_assign_the_waiting_task(make_person, ml_task):
    bob = make_person("bob")
    leave = TimeOffFactory(
        user=bob, starts=timezone.now() - timedelta(days=3), ends=timezone.now() + timedelta(days=1)
    )
    task = ml_task()
    assert assign(task=task) is None
    leave.ends = timezone.now() - timedelta(seconds=1)
    leave.save()
    from apps.assignment.tasks import retry_waiting_tasks

    assert retry_waiting_tasks.delay().get() == 1
    task.refresh_from_db()
    assert task.assignee == bob


def test_future_time_off_does_not_block(make_person, ml_task):
    bob = make_person("bob")
    TimeOffFactory(
        user=bob, starts=timezone.now() + timedelta(days=1), ends=timezone.now() + timedelta(days=2)
    )
    assert assign(task=ml_task()).assignee == bob


# --- query counts ----------------------------------------------------------------------------


@pytest.mark.parametrize("team_size", [5, 80])
def test_auto_assign_query_count_does_not_grow_with_team(
    team_size, team, skill, ml_task, django_assert_max_num_queries
):
    for _ in range(team_size):
        user = UserFactory()
        MembershipFactory(team=team, user=user, role=Role.MEMBER)
        PersonSkillFactory(user=user, skill=skill, level=3)
    task = ml_task()
    # The log row's content type is cached per process: warm it, or the count depends on which
    # test ran first in this worker (as in test_batch).
    ContentType.objects.get_for_model(Task)
    # 8 of them savepoints; one reads the team for the decision's "why not the others", one
    # the team's webhooks that want the transition (apps.hooks.services.emit_event)
    with django_assert_max_num_queries(20):
        assert assign(task=task) is not None


# --- assignments made around the engine still follow the same rule ----------------------------


def test_direct_assign_to_an_unskilled_person_is_rolled_back(make_person, ml_task, lead):
    bob = make_person("bob", level=None)
    task = ml_task()
    with pytest.raises(TaskActionRefused, match="lacks skill ML"):
        task_services.assign_to(task=task, assignee=bob, by=lead)
    task.refresh_from_db()
    bob.refresh_from_db()
    assert task.state == State.TODO and bob.active_count == 0


def test_task_page_assign_button_refuses_an_away_member(make_person, ml_task, client_for):
    bob = make_person("bob", is_away=True)
    task = ml_task()
    url = reverse("tasks:task_transition", args=[task.pk, "assign"])
    response = client_for(bob).post(url, {"expected_state": "todo"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "can&#x27;t take this task: away" in response.content.decode()
    task.refresh_from_db()
    assert task.state == State.TODO


def test_direct_assign_taking_the_last_slot_is_allowed(make_person, ml_task, lead):
    bob = make_person("bob", capacity=1)
    assert task_services.assign_to(task=ml_task(), assignee=bob, by=lead).assignee == bob


def test_only_a_lead_or_relay_may_auto_assign(make_person, ml_task):
    bob = make_person("bob")
    task = ml_task()
    with pytest.raises(TaskActionRefused, match="Only a lead"):
        assign(task=task, by=bob)
    assert not WaitingTask.objects.exists()


def test_losing_the_race_for_the_best_person_takes_the_next(make_person, ml_task, monkeypatch):
    """The ranking said ann, but her last slot went elsewhere before our write: the database
    refuses the counter, and the task goes to the next in line."""
    ann = make_person("ann", level=5, capacity=1)
    bob = make_person("bob", level=3, capacity=1)
    real = selectors.best_candidates
    raced = []

    def ranking_then_rival(**kwargs):
        ranked = real(**kwargs)
        if not raced:
            User.objects.filter(pk=ann.pk).update(active_count=1)  # a rival took her slot
            raced.append(True)
        return ranked

    monkeypatch.setattr(selectors, "best_candidates", ranking_then_rival)
    task = assign(task=ml_task())
    assert raced and task.assignee == bob
    ann.refresh_from_db()
    assert ann.active_count == 1 == ann.capacity


def test_freeing_capacity_helps_the_persons_other_team(make_person, ml_task, skill, lead):
    bob = make_person("bob", capacity=1)
    other = TeamFactory(slug="other")
    MembershipFactory(team=other, user=bob)
    first = assign(task=ml_task(title="first"))
    elsewhere = task_services.create_task(
        team=other, title="elsewhere", by=None, required_skill=skill, min_level=3
    )
    assert assign(task=elsewhere) is None
    task_services.start(task=first, by=bob)
    task_services.complete(task=first, by=bob)
    elsewhere.refresh_from_db()
    assert elsewhere.assignee == bob


def test_raising_capacity_in_the_admin_retries_after_commit(
    make_person, ml_task, rf, django_capture_on_commit_callbacks
):
    from django.contrib.admin.sites import site

    bob = make_person("bob", capacity=1)
    assign(task=ml_task(title="first"))
    waiting = ml_task(title="second")
    assign(task=waiting)
    User.objects.filter(pk=bob.pk).update(capacity=2)

    class SavedForm:  # what the admin hands save_related after saving the user
        changed_data = ["capacity"]
        instance = bob

        def save_m2m(self):
            pass

    with django_capture_on_commit_callbacks(execute=True):
        site._registry[User].save_related(rf.post("/"), SavedForm(), [], True)
    waiting.refresh_from_db()
    assert waiting.assignee == bob


def test_a_member_may_not_let_the_engine_choose_someone(make_person, ml_task, member):
    make_person("bob")
    task = ml_task()
    with pytest.raises(TaskActionRefused, match="Only a lead can assign") as refused:
        assign_with_decision(task=task, by=member)
    assert refused.value.status == HTTPStatus.FORBIDDEN
    task.refresh_from_db()
    assert task.state == State.TODO
