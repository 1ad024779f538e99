"""SLA escalation: remind the assignee, then alert the leads, then re-assign — each once."""

from datetime import timedelta

import pytest
from django.urls import reverse

from apps.notifications.models import Kind, Notification
from apps.tasks import reminders
from apps.tasks import services as task_services
from apps.tasks.models import Escalation, EscalationStatus, State, Task
from apps.workflows import escalation, exchange, services
from apps.workflows.validation import graph_of, validate
from tests.factories import PersonSkillFactory
from tests.workflows.helpers import GAP, escalating_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def coder(make_member, skills):
    user = make_member(username="cody", first_name="Cody", last_name="Coder")
    PersonSkillFactory(user=user, skill=skills["python"], level=3)
    return user


@pytest.fixture
def second_coder(make_member, skills):
    user = make_member(username="sam", first_name="Sam", last_name="Second")
    PersonSkillFactory(user=user, skill=skills["python"], level=3)
    return user


@pytest.fixture
def make_run(team, skills, lead):
    def make(**kwargs):
        template = exchange.import_template(escalating_document(**kwargs), team=team)
        return services.start_run(template=template, title="Churn v3", owner=lead, by=lead)

    return make


def write_task(run) -> Task:
    return Task.objects.select_related("step").get(run=run, step__key="write")


def given_to(task: Task, person, lead) -> Task:
    return task_services.assign_to(task=task, assignee=person, by=lead)


def escalated(task: Task) -> list[str]:
    return list(Escalation.objects.filter(task=task).values_list("stage", flat=True))


def told(kind: str) -> list[str]:
    return list(
        Notification.objects.filter(kind=kind)
        .order_by("pk")
        .values_list("recipient__username", flat=True)
    )


# --- each stage once ------------------------------------------------------------------------


def test_each_stage_runs_and_notifies_once_however_often_beat_runs(make_run, coder, lead):
    task = given_to(write_task(make_run()), coder, lead)
    due = task.due_at
    for hours, stage in ((0, "remind"), (GAP, "lead"), (2 * GAP, "reassign")):
        first = escalation.escalate_overdue(now=due + timedelta(hours=hours, minutes=1))
        second = escalation.escalate_overdue(now=due + timedelta(hours=hours, minutes=2))
        assert [e.stage for e in first] == [stage]
        assert second == []
    assert escalated(task) == ["remind", "lead", "reassign"]
    assert told(Kind.OVERDUE) == ["cody"]
    # The leads hear of the lead stage and of the re-assignment (nobody else could take it).
    assert told(Kind.ESCALATED) == ["leo", "leo"]
    assert escalation.escalate_overdue(now=due + timedelta(days=30)) == []


def test_stages_come_in_order_each_a_gap_after_the_last(make_run, coder, lead):
    task = given_to(write_task(make_run()), coder, lead)
    due = task.due_at
    assert escalation.escalate_overdue(now=due - timedelta(minutes=1)) == []
    # Found three days late (beat was down): one stage now, the next a gap after it.
    late = due + timedelta(days=3)
    assert [e.stage for e in escalation.escalate_overdue(now=late)] == ["remind"]
    assert escalation.escalate_overdue(now=late + timedelta(hours=GAP - 1)) == []
    assert [e.stage for e in escalation.escalate_overdue(now=late + timedelta(hours=GAP))] == [
        "lead"
    ]
    task.refresh_from_db()
    assert task.escalation == EscalationStatus.LEAD_ALERTED
    assert task.escalated_at == late + timedelta(hours=GAP)


def test_a_step_that_only_reminds_stops_after_the_reminder(make_run, coder, lead):
    task = given_to(write_task(make_run(escalate="remind")), coder, lead)
    escalation.escalate_overdue(now=task.due_at)
    assert escalation.escalate_overdue(now=task.due_at + timedelta(days=2)) == []
    assert escalated(task) == ["remind"]
    assert told(Kind.ESCALATED) == []


def test_the_reminder_is_the_days_overdue_notice_not_a_second_one(make_run, coder, lead):
    task = given_to(write_task(make_run()), coder, lead)
    now = task.due_at + timedelta(minutes=5)
    assert reminders.send_overdue_reminders(now=now) == 1
    [done] = escalation.escalate_overdue(now=now)
    assert done.stage == "remind"
    assert "Reminded Cody Coder" in done.detail
    assert told(Kind.OVERDUE) == ["cody"]


def test_nobodys_task_reminds_the_leads(make_run, lead):
    task = write_task(make_run())
    [done] = escalation.escalate_overdue(now=task.due_at)
    assert told(Kind.OVERDUE) == ["leo"]
    assert done.detail.startswith(f"Reminded {lead.display_name}:")


# --- re-assignment --------------------------------------------------------------------------


def run_to_reassign(task: Task) -> escalation.Escalated:
    for hours in (0, GAP):
        escalation.escalate_overdue(now=task.due_at + timedelta(hours=hours))
    [done] = escalation.escalate_overdue(now=task.due_at + timedelta(hours=2 * GAP))
    return done


def test_reassign_gives_the_task_to_the_next_eligible_person_and_says_why(
    make_run, coder, second_coder, lead
):
    task = given_to(write_task(make_run()), coder, lead)
    done = run_to_reassign(task)
    task.refresh_from_db()
    assert task.assignee == second_coder
    assert task.state == State.ASSIGNED
    assert task.escalation == EscalationStatus.REASSIGNED
    assert done.detail == ("Re-assigned from Cody Coder to Sam Second: 16 h past its SLA (24 h).")
    assert "sam" in told(Kind.ASSIGNED)
    assert told(Kind.UNASSIGNED) == ["cody"]
    coder.refresh_from_db()
    second_coder.refresh_from_db()
    assert (coder.active_count, second_coder.active_count) == (0, 1)


def test_reassign_never_goes_past_anyone_s_capacity(make_run, make_task, coder, second_coder, lead):
    task = given_to(write_task(make_run()), coder, lead)
    for n in range(second_coder.capacity):  # Sam is full
        given_to(make_task(title=f"Busy {n}"), second_coder, lead)
    done = run_to_reassign(task)
    task.refresh_from_db()
    assert task.assignee == coder  # left with Cody rather than with nobody
    assert task.escalation == EscalationStatus.NOT_REASSIGNED
    assert done.detail.startswith("Not re-assigned: nobody else can take it (")
    assert "Sam Second" in done.detail and "capacity" in done.detail
    second_coder.refresh_from_db()
    assert second_coder.active_count == second_coder.capacity
    assert told(Kind.ESCALATED) == ["leo", "leo"]  # lead stage, then "nobody"


def test_reassign_skips_whoever_may_not_review_their_own_work(
    make_member, make_run, coder, skills, ml_reviewer, lead
):
    """Four-eyes: Cody wrote it and has the review skill, but never reviews his own work."""
    PersonSkillFactory(user=coder, skill=skills["ml-review"], level=4)
    run = make_run(review_escalates=True)
    write = given_to(write_task(run), coder, lead)
    write = task_services.start(task=write, by=coder)
    task_services.complete(task=write, by=coder)
    check = Task.objects.select_related("step").get(run=run, step__key="check")
    check = given_to(check, ml_reviewer, lead)
    done = run_to_reassign(check)
    check.refresh_from_db()
    assert check.assignee == ml_reviewer
    assert "nobody else can take it" in done.detail
    assert "Cody Coder" in done.detail


def test_a_started_task_is_not_taken_from_its_assignee(make_run, coder, second_coder, lead):
    task = given_to(write_task(make_run()), coder, lead)
    task_services.start(task=task, by=coder)
    done = run_to_reassign(task)
    task.refresh_from_db()
    assert (task.assignee, task.state) == (coder, State.IN_PROGRESS)
    assert done.detail.startswith("Not re-assigned: Cody Coder has started it")
    assert told(Kind.ESCALATED) == ["leo", "leo"]


def test_nobodys_task_is_assigned_at_the_reassign_stage(make_run, second_coder, lead):
    task = write_task(make_run())
    done = run_to_reassign(task)
    task.refresh_from_db()
    assert task.assignee == second_coder
    assert done.detail.startswith("Assigned to Sam Second")


# --- what never escalates -------------------------------------------------------------------


def test_a_held_task_does_not_escalate_until_resumed(make_run, coder, lead):
    task = given_to(write_task(make_run()), coder, lead)
    task_services.hold(task=task, by=lead)
    assert escalation.escalate_overdue(now=task.due_at + timedelta(days=3)) == []
    task_services.resume(task=Task.objects.get(pk=task.pk), by=lead)
    assert [e.stage for e in escalation.escalate_overdue(now=task.due_at + timedelta(days=3))] == [
        "remind"
    ]


def test_finished_or_cancelled_tasks_never_escalate(make_run, coder, lead):
    run = make_run()
    task = given_to(write_task(run), coder, lead)
    services.cancel_run(run=run, by=lead, note="")
    assert escalation.escalate_overdue(now=task.due_at + timedelta(days=3)) == []
    assert Escalation.objects.count() == 0


def test_a_step_that_does_not_escalate_is_left_to_the_overdue_reminder(make_run, coder, lead):
    task = given_to(write_task(make_run(escalate="off")), coder, lead)
    assert escalation.escalate_overdue(now=task.due_at + timedelta(days=3)) == []


def test_a_later_due_date_postpones_the_next_stage(make_run, coder, lead):
    task = given_to(write_task(make_run()), coder, lead)
    first_due = task.due_at
    escalation.escalate_overdue(now=first_due)
    Task.objects.filter(pk=task.pk).update(due_at=first_due + timedelta(days=2))
    assert escalation.escalate_overdue(now=first_due + timedelta(hours=GAP)) == []
    assert [e.stage for e in escalation.escalate_overdue(now=first_due + timedelta(days=2))] == [
        "lead"
    ]


# --- the step's settings --------------------------------------------------------------------


def test_export_and_import_keep_the_escalation(team, skills, lead):
    template = exchange.import_template(escalating_document(), team=team)
    exported = exchange.export_template(template)
    write = next(s for s in exported["steps"] if s["key"] == "write")
    assert (write["escalation"], write["escalate_every_hours"]) == ("reassign", GAP)


def test_an_older_document_without_escalation_imports_with_it_off(team, skills, lead):
    old = escalating_document()
    for step in old["steps"]:
        del step["escalation"], step["escalate_every_hours"]
    template = exchange.import_template(old, team=team)
    assert set(template.steps.values_list("escalation", flat=True)) == {"off"}


def test_validation_refuses_escalating_without_an_sla(team, skills, lead):
    bad = escalating_document()
    bad["steps"][0]["sla_hours"] = None
    problems = exchange.check_import(bad, team=team)
    assert any("Step 'write' escalates but has no SLA" in p for p in problems)


def test_validation_refuses_escalating_an_automated_step(team, skills, lead):
    template = exchange.import_template(escalating_document(), team=team)
    template.steps.filter(key="write").update(kind="automated", action="x")
    assert any(
        p.startswith("Step 'write' escalates, but its task is nobody's work")
        for p in validate(graph_of(template))
    )


def test_ml_peer_review_escalates(team, skills, lead):
    from apps.workflows import definitions

    review = next(s for s in definitions.ML_DEPLOYMENT["steps"] if s["key"] == "review")
    assert (review["sla_hours"], review["escalation"], review["escalate_every_hours"]) == (
        24,
        "reassign",
        8,
    )


# --- where people see it --------------------------------------------------------------------


def test_the_card_says_how_far_the_escalation_got(client_for, make_run, coder, lead):
    task = given_to(write_task(make_run()), coder, lead)
    board = reverse("boards:board", args=[task.team.slug])
    assert 'data-testid="escalated"' not in client_for(lead).get(board).content.decode()
    escalation.escalate_overdue(now=task.due_at)
    escalation.escalate_overdue(now=task.due_at + timedelta(hours=GAP))
    # The cached board grid changes with the task (its escalation columns changed).
    html = client_for(lead).get(board).content.decode()
    assert "⚑ Escalated: lead alerted" in html
    assert "The step&#x27;s SLA ran out; escalated" in html


def test_the_run_page_says_which_step_escalated(client_for, make_run, coder, lead):
    run = make_run()
    task = given_to(write_task(run), coder, lead)
    escalation.escalate_overdue(now=task.due_at)
    html = client_for(lead).get(run.get_absolute_url()).content.decode()
    assert 'data-testid="run-escalated"' in html
    assert "Escalated: reminded" in html


def test_the_drawer_history_has_each_stage_with_its_reason(
    client_for, make_run, coder, second_coder, lead
):
    task = given_to(write_task(make_run()), coder, lead)
    run_to_reassign(task)
    drawer = reverse("boards:drawer", args=[task.pk])
    html = client_for(lead).get(drawer).content.decode()
    assert html.count('data-testid="history-escalation"') == 3
    assert "Reminded Cody Coder: the SLA (24 h) ran out." in html
    assert "Re-assigned from Cody Coder to Sam Second: 16 h past its SLA (24 h)." in html
    # The unassign and assign transitions carry the reason too.
    assert html.count("Escalated: 16 h past its SLA (24 h).") == 2
