"""The task lifecycle: who may take which transition, and what a refusal leaves behind."""

from http import HTTPStatus

import pytest
from django.core.exceptions import ValidationError
from django_fsm import TransitionNotAllowed
from django_fsm_log.models import StateLog

from apps.core.refusals import Refused
from apps.notifications.models import Kind, Notification
from apps.tasks import services
from apps.tasks.models import State, Task
from apps.tasks.services import TaskActionRefused


def log_count(task):
    return StateLog.objects.for_(task).count()


def assigned(task, person, lead):
    return services.assign_to(task=task, assignee=person, by=lead)


def in_progress(task, person, lead):
    return services.start(task=assigned(task, person, lead), by=person)


def in_review(task, person, lead):
    return services.submit(task=in_progress(task, person, lead), by=person)


def test_state_cannot_be_set_directly(task):
    with pytest.raises(AttributeError):
        task.state = State.DONE


def test_new_task_starts_in_todo(task):
    assert task.state == State.TODO
    assert log_count(task) == 0


def test_lead_assigns_and_log_records_who_and_note(task, member, lead):
    task = services.assign_to(task=task, assignee=member, by=lead, note="you know this data")
    assert task.state == State.ASSIGNED
    assert task.assignee == member
    log = StateLog.objects.for_(task).get()
    assert (log.by, log.source_state, log.state, log.description) == (
        lead,
        "todo",
        "assigned",
        "you know this data",
    )


def test_member_may_take_a_task_for_themselves(task, member):
    services.assign_to(task=task, assignee=member, by=member)
    task.refresh_from_db()
    member.refresh_from_db()
    assert (task.state, task.assignee) == (State.ASSIGNED, member)
    assert member.active_count == 1


def test_member_may_not_assign_someone_else(task, member, other_member):
    with pytest.raises(TaskActionRefused, match="Only a lead"):
        services.assign_to(task=task, assignee=other_member, by=member)
    task.refresh_from_db()
    assert task.state == State.TODO and log_count(task) == 0


def test_cannot_assign_outside_the_team(task, lead, outsider):
    with pytest.raises(TaskActionRefused, match="not a member"):
        services.assign_to(task=task, assignee=outsider, by=lead)


def test_assignment_notifies_the_assignee(task, member, lead):
    assigned(task, member, lead)
    assert Notification.objects.filter(recipient=member, kind=Kind.ASSIGNED).count() == 1


def test_each_assignment_is_a_new_event_named_by_its_log_row(task, member, lead):
    assigned(task, member, lead)
    services.unassign(task=task, by=lead)
    assigned(task, member, lead)
    logs = StateLog.objects.for_(task).filter(transition="assign").order_by("id")
    keys = Notification.objects.filter(recipient=member, kind=Kind.ASSIGNED).values_list(
        "key", flat=True
    )
    assert sorted(keys) == sorted(
        f"{Kind.ASSIGNED}:task:{task.pk}:log:{log.pk}:to:{member.pk}" for log in logs
    )


@pytest.mark.parametrize(
    ("verb", "target"),
    [("start", State.IN_PROGRESS), ("unassign", State.TODO), ("hold", State.ON_HOLD)],
)
def test_assignee_and_lead_may_work_an_assigned_task(verb, target, task, member, lead):
    for actor in (member, lead):
        fresh = assigned(services.create_task(team=task.team, title="t", by=lead), member, lead)
        services.perform(task=fresh, action=verb, by=actor)
        fresh.refresh_from_db()
        assert fresh.state == target
        log = StateLog.objects.for_(fresh).latest("id")
        assert (log.transition, log.by) == (verb, actor)


@pytest.mark.parametrize("verb", ["start", "unassign", "hold"])
def test_others_may_not_work_an_assigned_task(verb, task, member, other_member, reviewer):
    task = assigned(task, member, task.created_by)
    for actor in (other_member, reviewer):
        with pytest.raises(TaskActionRefused, match="Only the assignee or a lead"):
            services.perform(task=task, action=verb, by=actor)
    task.refresh_from_db()
    assert task.state == State.ASSIGNED
    assert log_count(task) == 1


def test_submit_only_by_assignee(task, member, other_member, lead):
    task = in_progress(task, member, lead)
    with pytest.raises(TaskActionRefused, match="Only the assignee or a lead can submit"):
        services.submit(task=task, by=other_member)
    task.refresh_from_db()
    assert task.state == State.IN_PROGRESS
    assert services.submit(task=task, by=member).state == State.IN_REVIEW


def test_submit_asks_reviewers_but_not_the_author(task, member, reviewer, lead):
    in_review(task, member, lead)
    asked = set(
        Notification.objects.filter(kind=Kind.REVIEW_REQUESTED).values_list(
            "recipient__username", flat=True
        )
    )
    assert asked == {reviewer.username, lead.username}


def test_complete_with_outcome(task, member, lead):
    task = in_progress(task, member, lead)
    task = services.complete(task=task, by=member, outcome="passed")
    assert task.state == State.DONE and task.outcome == "passed"


def test_complete_refuses_unknown_outcome(task, member, lead):
    task = in_progress(task, member, lead)
    with pytest.raises(TaskActionRefused, match="Choose an outcome"):
        services.complete(task=task, by=member, outcome="shrug")
    task.refresh_from_db()
    assert task.state == State.IN_PROGRESS


def test_work_that_needs_review_cannot_skip_it(make_task, member, lead):
    task = in_progress(make_task(requires_review=True), member, lead)
    with pytest.raises(TaskActionRefused, match="must be reviewed"):
        services.complete(task=task, by=member)


@pytest.mark.parametrize(
    ("verb", "state", "outcome"),
    [
        ("approve", State.DONE, "approved"),
        ("reject", State.DONE, "rejected"),
        ("request_changes", State.IN_PROGRESS, "changes_requested"),
    ],
)
def test_reviewer_decides(verb, state, outcome, task, member, reviewer, lead):
    task = in_review(task, member, lead)
    task = services.perform(task=task, action=verb, by=reviewer, note="looked at it")
    assert (task.state, task.outcome, task.reviewer) == (state, outcome, reviewer)


@pytest.mark.parametrize("verb", ["approve", "reject", "request_changes"])
def test_plain_member_cannot_review(verb, task, member, other_member, lead):
    task = in_review(task, member, lead)
    with pytest.raises(TaskActionRefused, match="other than the assignee"):
        services.perform(task=task, action=verb, by=other_member)
    task.refresh_from_db()
    assert (task.state, task.outcome, task.reviewer) == (State.IN_REVIEW, "", None)
    assert log_count(task) == 3


@pytest.mark.parametrize("verb", ["approve", "reject", "request_changes"])
def test_four_eyes_author_never_reviews_own_work(verb, task, make_member, lead):
    from apps.people.models import Role

    author = make_member(Role.REVIEWER)
    task = in_review(task, author, lead)
    with pytest.raises(TaskActionRefused, match="other than the assignee"):
        services.perform(task=task, action=verb, by=author)
    task.refresh_from_db()
    assert task.state == State.IN_REVIEW


@pytest.mark.parametrize("verb", ["approve", "reject", "request_changes"])
def test_four_eyes_holds_for_a_lead_reviewing_own_work(verb, make_task, lead):
    task = in_review(make_task(), lead, lead)
    with pytest.raises(TaskActionRefused, match="other than the assignee"):
        services.perform(task=task, action=verb, by=lead)


def test_named_reviewer_is_the_one_who_decides(task, member, reviewer, make_member, lead):
    from apps.people.models import Role

    other_reviewer = make_member(Role.REVIEWER)
    Task.objects.filter(pk=task.pk).update(reviewer=reviewer)
    task = in_review(task, member, lead)
    with pytest.raises(TaskActionRefused, match="Only a reviewer other than the assignee"):
        services.approve(task=task, by=other_reviewer)
    task.refresh_from_db()
    assert task.state == State.IN_REVIEW
    assert services.approve(task=task, by=reviewer).state == State.DONE


def test_decision_notifies_the_author(task, member, reviewer, lead):
    task = in_review(task, member, lead)
    services.request_changes(task=task, by=reviewer, note="add a baseline")
    note = Notification.objects.get(recipient=member, kind=Kind.CHANGES_REQUESTED)
    assert note.payload["note"] == "add a baseline"


@pytest.mark.parametrize("held_in", ["todo", "assigned", "in_progress", "in_review"])
def test_resume_returns_to_where_it_was_held(held_in, task, member, lead):
    task = {
        "todo": lambda: task,
        "assigned": lambda: assigned(task, member, lead),
        "in_progress": lambda: in_progress(task, member, lead),
        "in_review": lambda: in_review(task, member, lead),
    }[held_in]()
    task = services.hold(task=task, by=lead)
    assert task.state == State.ON_HOLD
    assert services.resume(task=task, by=lead).state == held_in


def test_cancel_is_for_leads_or_the_creator(task, member, lead):
    with pytest.raises(TaskActionRefused, match="lead or the task's creator"):
        services.cancel(task=task, by=member)
    assert services.cancel(task=task, by=lead).state == State.CANCELLED


@pytest.mark.parametrize("verb", ["start", "submit", "approve", "resume", "unassign"])
def test_finished_tasks_are_final(verb, task, lead):
    task = services.cancel(task=task, by=lead)
    with pytest.raises(TaskActionRefused, match="Can't"):
        services.perform(task=task, action=verb, by=lead)


def test_wrong_state_is_refused_with_a_sentence(task, member, lead):
    task = assigned(task, member, lead)
    with pytest.raises(TaskActionRefused) as error:
        services.submit(task=task, by=member)
    assert str(error.value) == "Can't submit for review a task that is Assigned."


def test_a_refusal_about_who_asks_is_forbidden(task, member, other_member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    with pytest.raises(Refused, match="Only the assignee or a lead can start") as refused:
        services.start(task=task, by=other_member)
    assert refused.value.status == HTTPStatus.FORBIDDEN


def test_a_refusal_about_the_task_is_a_conflict(task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    with pytest.raises(Refused, match="Can't submit for review a task that is Assigned") as refused:
        services.submit(task=task, by=member)
    assert refused.value.status == HTTPStatus.CONFLICT


def test_a_lead_only_assignment_is_forbidden_to_a_member(task, member, other_member):
    with pytest.raises(Refused, match="Only a lead can assign") as refused:
        services.assign_to(task=task, assignee=other_member, by=member)
    assert refused.value.status == HTTPStatus.FORBIDDEN


def test_a_refused_transition_is_still_a_django_fsm_refusal(task, member):
    with pytest.raises(TransitionNotAllowed):
        services.start(task=task, by=member)


def test_stale_page_is_refused_and_changes_nothing(task, member, lead):
    task = assigned(task, member, lead)
    services.start(task=task, by=member)  # another tab already started it
    with pytest.raises(TaskActionRefused, match="Someone else changed this task first"):
        services.hold(task=task, by=member, expected_state="assigned")
    task.refresh_from_db()
    assert task.state == State.IN_PROGRESS
    assert log_count(task) == 2


def test_stale_object_in_memory_is_refused(task, member, lead):
    stale = Task.objects.get(pk=task.pk)
    assigned(task, member, lead)
    stale.assign(assignee=member, by=lead)
    from django_fsm import ConcurrentTransition

    with pytest.raises(ConcurrentTransition):
        stale.save()


def test_capacity_is_enforced_by_the_database(make_task, make_member, lead):
    person = make_member(capacity=1)
    first, second = make_task(), make_task()
    assigned(first, person, lead)
    with pytest.raises(TaskActionRefused, match="at capacity"):
        assigned(second, person, lead)
    second.refresh_from_db()
    person.refresh_from_db()
    assert second.state == State.TODO
    assert person.active_count == 1
    assert log_count(second) == 0


def test_finishing_work_frees_capacity(make_task, make_member, lead):
    person = make_member(capacity=1)
    first = in_progress(make_task(), person, lead)
    services.complete(task=first, by=person)
    person.refresh_from_db()
    assert person.active_count == 0
    assigned(make_task(), person, lead)


def test_hold_frees_capacity_and_resume_needs_it_again(make_task, make_member, lead):
    person = make_member(capacity=1)
    held = services.hold(task=assigned(make_task(), person, lead), by=lead)
    assigned(make_task(), person, lead)
    with pytest.raises(TaskActionRefused, match="at capacity"):
        services.resume(task=held, by=lead)
    held.refresh_from_db()
    assert held.state == State.ON_HOLD


def test_comment_requires_text(task, member):
    with pytest.raises(ValueError, match="Write something"):
        services.add_comment(task=task, author=member, body="   ")
    assert task.comments.count() == 0


def test_comment_length_is_validated(task, member):
    with pytest.raises(ValidationError):
        services.add_comment(task=task, author=member, body="x" * 5001)
    assert task.comments.count() == 0


def test_relay_itself_acts_without_a_role_but_within_the_lifecycle(task, member):
    task = services.assign_to(task=task, assignee=member, by=None)
    task = services.start(task=task, by=None)
    task = services.complete(task=task, by=None, outcome="passed")
    assert (task.state, task.outcome) == (State.DONE, "passed")
    assert StateLog.objects.for_(task).last().by is None
    with pytest.raises(TaskActionRefused, match="Can't"):
        services.start(task=task, by=None)


def test_nobody_is_told_about_what_they_did_themselves(task, member):
    services.assign_to(task=task, assignee=member, by=member)
    assert not Notification.objects.filter(recipient=member).exists()


def test_a_lead_assigning_costs_at_most_seventeen_queries(
    task, member, lead, django_assert_max_num_queries
):
    """Savepoints included: roles, lock, log row, counter, task, the assignee's notification
    (no read-back of the log id, one INSERT), the eligibility check and the waiting-row
    tidy-up (the content type is looked up once per process)."""
    with django_assert_max_num_queries(17):
        assigned(task, member, lead)


def test_actions_are_the_transitions_the_model_declares_in_its_order():
    state = Task._meta.get_field("state")
    declared = {t.name: t for t in state.get_all_transitions(Task)}
    assert list(services.ACTIONS)[:3] == ["assign", "unassign", "start"]
    assert set(services.ACTIONS) == set(declared)
    for name, action in services.ACTIONS.items():
        assert action.label == declared[name].custom["label"]
        if name not in ("resume", "request_changes"):  # computed: see Task.returned_state
            assert action.target == declared[name].target


def test_resume_leads_back_to_the_state_it_was_held_from(task, member, lead):
    task = services.hold(task=in_progress(task, member, lead), by=member)
    assert services.target_of(task=task, action="resume") == State.IN_PROGRESS
    assert services.resume(task=task, by=member).state == State.IN_PROGRESS


def test_a_team_member_ticks_a_checklist_item(task, member):
    item = task.checklist.create(text="Split the data")
    services.toggle_checklist_item(item=item, by=member, done=True)
    item.refresh_from_db()
    assert item.done


def test_someone_outside_the_team_may_not_tick_a_checklist_item(task, outsider):
    item = task.checklist.create(text="Split the data")
    with pytest.raises(Refused, match="Only team members tick checklist items") as refused:
        services.toggle_checklist_item(item=item, by=outsider, done=True)
    assert refused.value.status == HTTPStatus.FORBIDDEN
    item.refresh_from_db()
    assert not item.done
