"""Four-eyes across a whole run: whoever did an earlier step of a run never reviews it, by any
path (the engine, the lead picker, "assign to me", Auto-assign, batch auto-assign, a drag to
Assigned, a decision, the admin), and a review step is decided, never completed.

The story every test starts from (found on main): Lena, a lead with both the training and the
reviewing skill, trains and evaluates the model herself; the engine gives the review to Rex.
"""

import copy
import re

import pytest
from django.urls import reverse
from django_fsm_log.models import StateLog

from apps.assignment.services import batch
from apps.assignment.services import single as assignment
from apps.notifications.models import Kind, Notification
from apps.people.models import Role
from apps.tasks import selectors as task_selectors
from apps.tasks import services as task_services
from apps.tasks.models import State, Task
from apps.workflows import definitions, exchange, services
from apps.workflows.models import Step

from ..boards.conftest import htmx
from ..factories import PersonSkillFactory
from ..html import texts_of, values_of
from ..tasks.test_admin import messages_on, press
from .conftest import GOOD_INPUTS
from .helpers import complete, open_task, tick_required

pytestmark = pytest.mark.django_db

TRAINED = "You did Train model in this run; someone else must review it."


@pytest.fixture
def lena(make_member, skills):
    """A lead who can train and review."""
    user = make_member(Role.LEAD, username="lena", first_name="Lena", last_name="Lind", capacity=5)
    PersonSkillFactory(user=user, skill=skills["ml-training"], level=4)
    PersonSkillFactory(user=user, skill=skills["ml-review"], level=5)
    return user


def work(run, key, person, outcome="done", *, lead) -> Task:
    """`person` does the step's open task (the lead hands it over if the engine chose another)."""
    task = open_task(run, key)
    if task.assignee_id != person.pk:
        if task.state == State.ASSIGNED:
            task = task_services.unassign(task=task, by=lead)
        task = task_services.assign_to(task=task, assignee=person, by=lead)
    task = task_services.start(task=task, by=person)
    tick_required(task)
    return complete(task, outcome, person)


@pytest.fixture
def run(ml_template, lena):
    run = services.start_run(
        template=ml_template, title="churn v3", owner=lena, by=lena, inputs=GOOD_INPUTS
    )
    work(run, "train", lena, lead=lena)
    work(run, "evaluate", lena, "passed", lead=lena)
    return run


@pytest.fixture
def review(run, ml_reviewer):
    task = open_task(run, "review")
    assert task.assignee == ml_reviewer  # the engine's pick
    return task


@pytest.fixture
def unassigned_review(review, lena):
    """The lead took the engine's chosen reviewer off the review (the start of the exploit)."""
    return task_services.unassign(task=review, by=lena)


def snapshot(task):
    task = Task.objects.get(pk=task.pk)
    logs = StateLog.objects.filter(object_id=task.pk, content_type__model="task").count()
    return (task.state, task.assignee_id, task.outcome, logs)


def assign_url(task):
    return reverse("assignment:assign", args=[task.pk])


def panel_assign(client, task, person=None):
    data = {"expected_state": task.state, "page": "task"}
    if person is not None:
        data["person"] = person.pk
    return htmx(client, "post", assign_url(task), data)


def transition_url(task, action):
    return reverse("tasks:task_transition", args=[task.pk, action])


def away(user):
    user.is_away = True
    user.save(update_fields=["is_away"])


# --- every way of assigning the review -----------------------------------------------------------


def test_the_author_cannot_take_the_review_with_assign_to_me(client_for, unassigned_review, lena):
    before = snapshot(unassigned_review)
    response = panel_assign(client_for(lena), unassigned_review, person=lena)
    assert response.status_code == 409
    assert TRAINED in response.content.decode()
    assert snapshot(unassigned_review) == before


def test_a_lead_cannot_give_the_review_to_its_author(client_for, unassigned_review, lena, lead):
    before = snapshot(unassigned_review)
    response = panel_assign(client_for(lead), unassigned_review, person=lena)
    assert response.status_code == 409
    assert "Lena Lind did Train model in this run; someone else must review it." in (
        response.content.decode()
    )
    assert snapshot(unassigned_review) == before


def test_the_panels_auto_assign_never_gives_the_review_to_its_author(
    client_for, unassigned_review, lena, ml_reviewer
):
    away(ml_reviewer)  # Lena is the only one left with the reviewing skill
    response = panel_assign(client_for(lena), unassigned_review)
    assert response.status_code == 200
    review = Task.objects.get(pk=unassigned_review.pk)
    assert (review.state, review.assignee) == (State.TODO, None)
    reasons = review.waiting.reasons["people"]
    assert ["Lena Lind", ["did Train model in this run; someone else must review it"]] in reasons


def test_batch_auto_assign_never_gives_the_review_to_its_author(
    unassigned_review, lena, ml_reviewer, trainer
):
    away(ml_reviewer)
    result = batch.auto_assign_pending(team=unassigned_review.team, by=lena)
    review = Task.objects.get(pk=unassigned_review.pk)
    assert (review.state, review.assignee) == (State.TODO, None)
    assert result.waiting == 1


def test_batch_auto_assign_gives_the_review_to_someone_else(unassigned_review, lena, ml_reviewer):
    batch.auto_assign_pending(team=unassigned_review.team, by=lena)
    assert Task.objects.get(pk=unassigned_review.pk).assignee == ml_reviewer


def test_a_lead_dragging_the_review_to_assigned_never_gives_it_to_its_author(
    client_for, unassigned_review, lena, ml_reviewer
):
    away(ml_reviewer)
    response = htmx(
        client_for(lena),
        "post",
        reverse("boards:move", args=[unassigned_review.pk]),
        {"from_state": "todo", "to": "assigned"},
    )
    assert "Nobody on the team can take this now" in response.content.decode()
    review = Task.objects.get(pk=unassigned_review.pk)
    assert (review.state, review.assignee) == (State.TODO, None)


def test_an_author_dragging_the_review_to_assigned_is_refused(
    client_for, ml_template, trainer, skills, lena
):
    PersonSkillFactory(user=trainer, skill=skills["ml-review"], level=4)
    run = services.start_run(template=ml_template, title="v4", owner=lena, by=lena)
    work(run, "train", trainer, lead=lena)
    work(run, "evaluate", lena, "passed", lead=lena)
    review = open_task(run, "review")
    if review.assignee is not None:
        review = task_services.unassign(task=review, by=lena)
    before = snapshot(review)
    response = htmx(
        client_for(trainer),
        "post",
        reverse("boards:move", args=[review.pk]),
        {"from_state": "todo", "to": "assigned"},
    )
    assert response.status_code == 409
    assert TRAINED in response.content.decode()
    assert snapshot(review) == before


def test_assigning_around_the_engine_is_refused_to_the_author(unassigned_review, lena):
    """tasks.services.assign_to, as the task page's own buttons call it (not vetted)."""
    before = snapshot(unassigned_review)
    with pytest.raises(task_services.TaskActionRefused, match=re.escape(TRAINED)):
        task_services.assign_to(task=unassigned_review, assignee=lena, by=lena)
    assert snapshot(unassigned_review) == before


def test_the_engine_never_gives_a_later_iterations_review_to_a_doer_of_an_earlier_one(
    run, review, lena, trainer, ml_reviewer
):
    task_services.start(task=review, by=ml_reviewer)
    task_services.request_changes(task=review, by=ml_reviewer, note="Leakage in the features.")
    work(run, "train", trainer, lead=lena)
    away(ml_reviewer)  # only Lena, who trained iteration 1, could review iteration 2
    work(run, "evaluate", trainer, "passed", lead=lena)
    second = open_task(run, "review")
    assert second.iteration == 2
    assert (second.state, second.assignee) == (State.TODO, None)


# --- deciding the review ---------------------------------------------------------------------


def test_the_author_cannot_decide_someone_elses_review(client_for, review, lena, ml_reviewer):
    task_services.start(task=review, by=ml_reviewer)
    for action in ("approve", "request_changes", "reject"):
        before = snapshot(review)
        response = client_for(lena).post(
            transition_url(review, action), headers={"HX-Request": "1"}
        )
        assert response.status_code == 403
        assert TRAINED in response.content.decode()
        assert snapshot(review) == before


def test_the_django_admin_refuses_the_author_too(client_for, review, lena):
    lena.is_staff = lena.is_superuser = True
    lena.save(update_fields=["is_staff", "is_superuser"])
    before = snapshot(review)
    page = press(client_for(lena), review, "approve")
    assert TRAINED in messages_on(page, "error")
    assert snapshot(review) == before


def test_a_review_step_cannot_be_completed(client_for, review, ml_reviewer):
    review = task_services.start(task=review, by=ml_reviewer)
    before = snapshot(review)
    response = client_for(ml_reviewer).post(
        transition_url(review, "complete"), {"outcome": "approved"}, headers={"HX-Request": "1"}
    )
    assert response.status_code == 409
    assert "A review is decided, not completed" in response.content.decode()
    assert snapshot(review) == before


def test_the_review_step_waits_in_awaiting_my_review_with_the_three_buttons(
    client_for, review, ml_reviewer
):
    page = client_for(ml_reviewer).get(reverse("boards:reviews"))
    row = page.content.decode().split(f'id="row-{review.pk}"')[1].split("</li>")[-2]
    assert values_of(row, "value", name="action") == ["approve", "request_changes", "reject"]
    assert texts_of(row, name="action") == ["Approve", "Request changes", "Reject"]


def test_the_review_step_is_counted_once_in_the_header(client_for, review, ml_reviewer):
    """A review step's task is the reviewer's decision, not work of her own: it waits in
    Awaiting my review only, so the header does not count it twice."""
    client = client_for(ml_reviewer)
    assert f'id="row-{review.pk}"' not in client.get(reverse("boards:my_work")).content.decode()
    assert task_selectors.work_counts(user=ml_reviewer) == {"mine": 0, "review": 1}


def test_approving_from_the_queue_moves_the_run_on_and_tells_the_author(
    client_for, run, review, lena, ml_reviewer
):
    response = htmx(
        client_for(ml_reviewer),
        "post",
        reverse("boards:move", args=[review.pk]),
        {
            "action": "approve",
            "ctx": "reviews",
            "note": "Solid work.",
            "expected_state": "assigned",
        },
    )
    assert response.status_code == 200
    review.refresh_from_db()
    assert (review.state, review.outcome, review.reviewer) == (State.DONE, "approved", ml_reviewer)
    assert Task.objects.filter(run=run, step__key="staging").exists()
    told = Notification.objects.get(kind=Kind.APPROVED, task_id=review.pk)
    assert told.recipient == lena
    assert told.payload["note"] == "Solid work."


def test_requesting_changes_finishes_the_review_loops_back_and_tells_the_author(
    run, review, lena, ml_reviewer
):
    task_services.request_changes(task=review, by=ml_reviewer, note="Leakage in the features.")
    review.refresh_from_db()
    assert (review.state, review.outcome) == (State.DONE, "changes_requested")
    assert open_task(run, "train").iteration == 2
    told = Notification.objects.get(kind=Kind.CHANGES_REQUESTED, task_id=review.pk)
    assert (told.recipient, told.payload["note"]) == (lena, "Leakage in the features.")
    ml_reviewer.refresh_from_db()
    assert ml_reviewer.active_count == 0  # the finished review holds no slot


# --- a step naming the steps whose doers must not do it --------------------------------------


def _with_rule(definition, key, not_done_by):
    document = copy.deepcopy(definition)
    next(s for s in document["steps"] if s["key"] == key)["not_done_by"] = not_done_by
    return document


def test_a_step_can_name_the_steps_whose_doers_must_not_do_it(team, skills, trainer, lena, lead):
    document = _with_rule(definitions.ML_DEPLOYMENT, "evaluate", ["train"])
    template = exchange.import_template(document, team=team)
    run = services.start_run(template=template, title="v5", owner=lena, by=lena)
    work(run, "train", lena, lead=lena)
    evaluate = open_task(run, "evaluate")
    assert evaluate.assignee == trainer  # the engine skipped Lena
    evaluate = task_services.unassign(task=evaluate, by=lena)
    with pytest.raises(
        task_services.TaskActionRefused,
        match=re.escape("You did Train model in this run; someone else must do this step."),
    ):
        assignment.assign(task=evaluate, person=lena, by=lena)


def test_the_rule_travels_through_export_and_import(team, skills, lena):
    document = _with_rule(definitions.ML_DEPLOYMENT, "review", ["train", "evaluate"])
    template = exchange.import_template(document, team=team)
    assert template.steps.get(key="review").not_done_by == ["train", "evaluate"]
    exported = exchange.export_template(template)
    assert next(s for s in exported["steps"] if s["key"] == "review")["not_done_by"] == [
        "train",
        "evaluate",
    ]


def test_an_import_naming_an_unknown_step_is_refused_and_writes_nothing(team, skills):
    document = _with_rule(definitions.ML_DEPLOYMENT, "review", ["trian"])
    problems = exchange.check_import(document, team=team)
    assert (
        "Step 'review' names step 'trian' in 'not done by', which does not exist: use the keys "
        "of this workflow's steps." in problems
    )
    with pytest.raises(services.WorkflowError):
        exchange.import_template(document, team=team)
    assert not Step.objects.exists()


def test_an_import_with_a_rule_of_the_wrong_type_is_refused(team, skills):
    document = _with_rule(definitions.ML_DEPLOYMENT, "review", "train")
    assert "Step 'review': 'not_done_by' must be a list of step keys." in exchange.check_import(
        document, team=team
    )


def test_the_admin_shows_and_saves_the_rule_as_step_keys(client_for, team, skills, lena):
    from apps.workflows.admin import StepForm

    template = exchange.import_template(
        _with_rule(definitions.ML_DEPLOYMENT, "review", ["train", "evaluate"]), team=team
    )
    step = template.steps.get(key="review")
    assert 'value="train, evaluate"' in str(StepForm(instance=step)["not_done_by"])
    data = {
        name: field.value()
        for name, field in ((n, StepForm(instance=step)[n]) for n in StepForm.base_fields)
    }
    data = {k: v for k, v in data.items() if v is not None and v is not False}
    data["not_done_by"] = "train,  evaluate , train"
    form = StepForm(data, instance=step)
    assert form.is_valid(), form.errors
    assert form.save().not_done_by == ["train", "evaluate"]
