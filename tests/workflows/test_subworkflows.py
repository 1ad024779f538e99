"""Sub-workflow steps: a step runs another template of the team, waits, and routes on its end."""

import copy
import threading

import pytest
from django.db import connection, transaction
from django.urls import reverse

from apps.people.models import Role
from apps.tasks import services as task_services
from apps.tasks.models import State, Task
from apps.tasks.services import TaskActionRefused
from apps.workflows import definitions, exchange, services
from apps.workflows.models import Run, RunStatus

from ..factories import PersonSkillFactory, TeamFactory
from .helpers import finish, open_task


def _child(team, slug="crm-update", *, then=None):
    """One manual pass/fail step; `then`: a second step that runs template `then` first."""
    steps = [{"key": "work", "name": "Work", "is_start": True, "manual_outcomes": "pass_fail"}]
    routes = [
        {"from": "work", "outcome": "passed", "to": None},
        {"from": "work", "outcome": "failed", "to": None},
    ]
    if then:
        steps[0]["is_start"] = False
        steps.insert(0, _sub_step("inner", then, is_start=True))
        routes += _sub_routes("inner", passed="work", other=None)
    return exchange.import_template(
        {"team": team.slug, "slug": slug, "name": slug.title(), "steps": steps, "routes": routes},
        team=team,
    )


def _sub_step(key, slug, **fields):
    return {"key": key, "name": key.title(), "kind": "subworkflow", "subworkflow": slug, **fields}


def _sub_routes(key, *, passed, other):
    return [
        {"from": key, "outcome": "passed", "to": passed},
        {"from": key, "outcome": "failed", "to": other},
        {"from": key, "outcome": "cancelled", "to": other},
    ]


def _parent_document(team, slug="onboard", *, child="crm-update", inputs=None):
    return {
        "team": team.slug,
        "slug": slug,
        "name": "Onboard",
        "steps": [
            _sub_step("crm", child, is_start=True, subworkflow_inputs=inputs or {}),
            {"key": "after", "name": "After"},
            {"key": "fix", "name": "Fix it"},
        ],
        "routes": [
            *_sub_routes("crm", passed="after", other="fix"),
            {"from": "after", "outcome": "done", "to": None},
            {"from": "fix", "outcome": "done", "to": None},
        ],
    }


@pytest.fixture
def doer(make_member):
    return make_member(Role.LEAD, username="hana", capacity=10)


@pytest.fixture
def parent(team, doer):
    _child(team)
    template = exchange.import_template(
        _parent_document(team, inputs={"source": '"onboarding"', "who": "inputs.employee"}),
        team=team,
    )
    return services.start_run(
        template=template, title="Ivy", owner=doer, by=doer, inputs={"employee": "Ivy"}
    )


def _child_of(run) -> Run:
    return Run.objects.get(parent_task__run=run, status=RunStatus.RUNNING)


def test_entering_the_step_starts_the_child_run_with_the_mapped_inputs(parent, doer):
    waiting = open_task(parent, "crm")
    assert waiting.state == State.IN_PROGRESS
    assert waiting.assignee.username != doer.username  # held by Relay automation
    child = _child_of(parent)
    assert child.template.slug == "crm-update"
    assert child.owner == doer
    assert child.inputs == {"source": "onboarding", "who": "Ivy"}


def test_a_completed_child_passes_the_parent_step_with_its_outputs(parent, doer):
    child = _child_of(parent)
    work = open_task(child, "work")
    Task.objects.filter(pk=work.pk).update(outputs={"crm_id": "C-17"})
    finish(child, "work", "passed", taker=doer)
    waiting = Task.objects.get(run=parent, step__key="crm")
    assert (waiting.state, waiting.outcome) == (State.DONE, "passed")
    assert waiting.outputs == {"crm_id": "C-17"}
    assert open_task(parent, "after")


def test_a_failed_child_fails_the_parent_step_which_routes_on_it(parent, doer):
    child = _child_of(parent)
    # Its only task cancelled by a lead leaves the child with nothing to do: it fails.
    task_services.cancel(task=open_task(child, "work"), by=doer, note="Wrong person.")
    child.refresh_from_db()
    assert child.status == RunStatus.FAILED
    waiting = Task.objects.get(run=parent, step__key="crm")
    assert waiting.outcome == "failed"
    assert open_task(parent, "fix")


def test_a_cancelled_child_cancels_the_parent_step_which_routes_on_it(parent, doer):
    services.cancel_run(run=_child_of(parent), by=doer, note="Not needed.")
    waiting = Task.objects.get(run=parent, step__key="crm")
    assert waiting.outcome == "cancelled"
    assert open_task(parent, "fix")
    parent.refresh_from_db()
    assert parent.status == RunStatus.RUNNING


def test_cancelling_the_parent_cancels_the_child_and_its_tasks(parent, doer):
    child = _child_of(parent)
    services.cancel_run(run=parent, by=doer)
    child.refresh_from_db()
    assert child.status == RunStatus.CANCELLED
    assert not Task.objects.filter(run=child, state__in=["todo", "assigned", "in_progress"])


def test_cancelling_the_parent_cancels_grandchildren_too(team, doer):
    _child(team, "leaf")
    _child(team, "middle", then="leaf")
    template = exchange.import_template(_parent_document(team, child="middle"), team=team)
    run = services.start_run(template=template, title="Deep", owner=doer, by=doer)
    middle = _child_of(run)
    leaf = _child_of(middle)
    services.cancel_run(run=run, by=doer)
    assert {r.status for r in Run.objects.filter(pk__in=[middle.pk, leaf.pk])} == {
        RunStatus.CANCELLED
    }


def test_a_lead_cancelling_the_waiting_task_cancels_the_child(parent, doer):
    child = _child_of(parent)
    task_services.cancel(task=open_task(parent, "crm"), by=doer, note="Done another way.")
    child.refresh_from_db()
    assert child.status == RunStatus.CANCELLED


def test_nobody_completes_the_waiting_task_by_hand(parent, doer):
    with pytest.raises(TaskActionRefused, match="waits for its sub-workflow run"):
        task_services.complete(task=open_task(parent, "crm"), by=doer, outcome="passed")
    assert open_task(parent, "crm").state == State.IN_PROGRESS


def test_a_child_that_ends_its_own_child_routes_up_the_chain(team, doer):
    _child(team, "leaf")
    _child(team, "middle", then="leaf")
    template = exchange.import_template(_parent_document(team, child="middle"), team=team)
    run = services.start_run(template=template, title="Deep", owner=doer, by=doer)
    middle = _child_of(run)
    finish(_child_of(middle), "work", "passed", taker=doer)
    finish(middle, "work", "passed", taker=doer)
    middle.refresh_from_db()
    assert middle.status == RunStatus.COMPLETED
    assert open_task(run, "after")


# --- validation --------------------------------------------------------------------------------


def test_an_unknown_template_is_refused_with_its_slug(team):
    problems = exchange.check_import(_parent_document(team, child="nope"), team=team)
    assert any("runs 'nope', which is no template of this team" in p for p in problems)


def test_a_template_of_another_team_is_refused(team):
    other = TeamFactory(slug="elsewhere")
    _child(other, "theirs")
    problems = exchange.check_import(_parent_document(team, child="theirs"), team=team)
    assert any("'theirs', a template of another team" in p for p in problems)


def test_a_workflow_running_itself_is_refused(team):
    problems = exchange.check_import(_parent_document(team, "onboard", child="onboard"), team=team)
    assert any("onboard → onboard" in p for p in problems)


def test_an_indirect_cycle_is_refused_naming_the_chain(team):
    _child(team, "a")
    exchange.import_template(_parent_document(team, "b", child="a"), team=team)
    # a now runs b, which runs a: refused when a is saved with the link.
    document = _parent_document(team, "a", child="b")
    problems = exchange.check_import(document, team=team)
    assert any("a → b → a" in p for p in problems)
    with pytest.raises(services.WorkflowError):
        exchange.import_template(document, team=team)


def test_a_cycle_made_behind_its_back_stops_the_start(team, doer):
    _child(team, "a")
    b = exchange.import_template(_parent_document(team, "b", child="a"), team=team)
    # Written around the validation (as an old database might hold it): start refuses it.
    a_start = b.team.templates.get(slug="a", is_current=True).steps.get(key="work")
    a_start.kind, a_start.subworkflow = "subworkflow", "b"
    a_start.save()
    with pytest.raises(services.WorkflowError, match="b → a → b"):
        services.start_run(template=b, title="loop", owner=doer, by=doer)
    assert not Run.objects.exists()


def test_an_unknown_name_in_an_input_mapping_is_refused(team):
    _child(team)
    problems = exchange.check_import(
        _parent_document(team, inputs={"x": "nosuchstep.value", "y": "not a name"}), team=team
    )
    assert any("reads 'nosuchstep.value'" in p for p in problems)
    assert any("'not a name' is neither a name" in p for p in problems)


def test_every_outcome_of_a_subworkflow_step_needs_a_route(team):
    _child(team)
    document = _parent_document(team)
    document["routes"] = [r for r in document["routes"] if r["outcome"] != "cancelled"]
    problems = exchange.check_import(document, team=team)
    assert any("no route for outcome 'cancelled'" in p for p in problems)


# --- exchange ----------------------------------------------------------------------------------


def test_export_and_import_carry_the_link_and_its_input_mapping(team):
    _child(team)
    mapping = {"who": "inputs.employee", "source": '"onboarding"', "n": 3}
    template = exchange.import_template(_parent_document(team, inputs=mapping), team=team)
    exported = exchange.export_template(template)
    step = next(s for s in exported["steps"] if s["key"] == "crm")
    assert (step["kind"], step["subworkflow"], step["subworkflow_inputs"]) == (
        "subworkflow",
        "crm-update",
        mapping,
    )
    exported["slug"] = "onboard-copy"
    copy = exchange.import_template(exported, team=team)
    assert copy.steps.get(key="crm").subworkflow_inputs == mapping


# --- joins -------------------------------------------------------------------------------------


def _two_children_joined(team):
    _child(team, "left")
    _child(team, "right")
    return exchange.import_template(
        {
            "team": team.slug,
            "slug": "both",
            "name": "Both",
            "steps": [
                {"key": "go", "name": "Go", "is_start": True, "is_split": True},
                _sub_step("l", "left"),
                _sub_step("r", "right"),
                {"key": "join", "name": "Join", "is_join": True},
            ],
            "routes": [
                {"from": "go", "outcome": "done", "to": "l"},
                {"from": "go", "outcome": "done", "to": "r"},
                *_sub_routes("l", passed="join", other=None),
                *_sub_routes("r", passed="join", other=None),
                {"from": "join", "outcome": "done", "to": None},
            ],
        },
        team=team,
    )


def test_a_parent_waiting_on_two_children_joins_after_both(team, doer):
    run = services.start_run(template=_two_children_joined(team), title="pair", owner=doer, by=doer)
    finish(run, "go", taker=doer)
    left, right = (
        Run.objects.get(parent_task__run=run, template__slug=s) for s in ("left", "right")
    )
    finish(left, "work", "passed", taker=doer)
    assert not Task.objects.filter(run=run, step__key="join").exists()
    finish(right, "work", "passed", taker=doer)
    assert Task.objects.filter(run=run, step__key="join").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_children_finishing_at_the_same_moment_create_the_join_once(team, doer):
    run = services.start_run(template=_two_children_joined(team), title="race", owner=doer, by=doer)
    finish(run, "go", taker=doer)
    works = [
        open_task(Run.objects.get(parent_task__run=run, template__slug=slug), "work")
        for slug in ("left", "right")
    ]
    for work in works:
        if work.state == State.TODO:
            work = task_services.assign_to(task=work, assignee=doer, by=doer)
        task_services.start(task=work, by=work.assignee)
    # Each child's last task is written done but not committed before either child routes:
    # both children end, and both waiting parent tasks complete, at the same moment.
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def finish_child(task):
        try:
            with transaction.atomic():
                Task.objects.filter(pk=task.pk).update(state="done", outcome="passed")
                barrier.wait(timeout=10)
                services.advance_run(task=Task.objects.get(pk=task.pk))
        except BaseException as error:  # reported below, in the test thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=finish_child, args=(work,)) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert Task.objects.filter(run=run, step__key="join").count() == 1
    assert set(
        Task.objects.filter(run=run, step__key__in=["l", "r"]).values_list("outcome", flat=True)
    ) == {"passed"}


# --- the shipped onboarding template -----------------------------------------------------------


@pytest.fixture
def onboarding(team, skills, doer):
    for slug in ("support", "writing"):
        PersonSkillFactory(user=doer, skill=skills[slug], level=3)
    for part in definitions.ONBOARDING_PARTS.values():
        exchange.import_template(copy.deepcopy(part), team=team)
    template = exchange.import_template(copy.deepcopy(definitions.ONBOARDING), team=team)
    run = services.start_run(
        template=template, title="Ivy", owner=doer, by=doer, inputs={"employee": "Ivy Li"}
    )
    finish(run, "intake", taker=doer)
    return run


def _part_run(run, key) -> Run:
    return Run.objects.get(parent_task__run=run, parent_task__step__key=key, status="running")


def test_onboarding_starts_its_three_parts_as_sub_workflows(onboarding):
    parts = Run.objects.filter(parent_task__run=onboarding)
    assert sorted(parts.values_list("template__slug", flat=True)) == [
        "crm-update",
        "training-scheduling",
        "welcome-email",
    ]
    assert {tuple(p.inputs.items()) for p in parts} == {(("employee", "Ivy Li"),)}


def test_onboarding_runs_end_to_end_through_its_parts_and_the_join(onboarding, doer):
    finish(_part_run(onboarding, "crm"), "record", taker=doer)
    welcome = _part_run(onboarding, "welcome")
    finish(welcome, "write", taker=doer)
    finish(welcome, "send", taker=doer)
    assert not Task.objects.filter(run=onboarding, step__key="first-day").exists()
    finish(_part_run(onboarding, "training"), "schedule", taker=doer)
    finish(onboarding, "first-day", taker=doer)
    onboarding.refresh_from_db()
    assert onboarding.status == RunStatus.COMPLETED
    assert set(
        Run.objects.filter(parent_task__run=onboarding).values_list("status", flat=True)
    ) == {RunStatus.COMPLETED}


def test_an_onboarding_part_that_fails_runs_again(onboarding, doer):
    crm = _part_run(onboarding, "crm")
    task_services.cancel(task=open_task(crm, "record"), by=doer, note="Wrong record.")
    again = _part_run(onboarding, "crm")
    assert again.pk != crm.pk
    assert open_task(onboarding, "crm").iteration == 2


# --- pages -------------------------------------------------------------------------------------


def test_the_parent_page_shows_each_child_run_with_its_diagram(parent, client_for, doer):
    child = _child_of(parent)
    page = client_for(doer).get(parent.get_absolute_url()).content.decode()
    block = page[page.index('data-testid="child-runs"') :]
    assert f'href="{child.get_absolute_url()}"' in block
    assert "Running" in block
    assert 'data-step="work"' in block  # the child's diagram, small


def test_the_child_page_links_its_parent(parent, client_for, doer):
    page = client_for(doer).get(_child_of(parent).get_absolute_url()).content.decode()
    line = page[page.index('data-testid="run-parent"') :]
    assert f'href="{parent.get_absolute_url()}"' in line[: line.index("</p>")]


def test_the_run_page_reads_as_many_queries_for_two_children_as_for_one(
    parent, team, doer, client_for, django_assert_max_num_queries
):
    client = client_for(doer)
    with django_assert_max_num_queries(60) as one_child:
        client.get(parent.get_absolute_url())
    pair = services.start_run(
        template=_two_children_joined(team), title="pair", owner=doer, by=doer
    )
    finish(pair, "go", taker=doer)
    assert Run.objects.filter(parent_task__run=pair).count() == 2
    # The pair's run has a finished step ("go") whose note the page reads: one query more, and
    # nothing per child.
    with django_assert_max_num_queries(len(one_child.captured_queries) + 1):
        client.get(pair.get_absolute_url())


def test_the_board_card_of_the_waiting_task_says_it_waits_for_the_sub_workflow(
    parent, client_for, doer, team
):
    waiting = open_task(parent, "crm")
    board = client_for(doer).get(reverse("boards:board", args=[team.slug])).content.decode()
    card = board[board.index(f'id="card-{waiting.pk}"') :]
    card = card[: card.index("</li>")]
    assert "Waiting for its sub-workflow" in card
    assert "crm-update" in card


def test_a_child_that_cannot_start_fails_the_parent_run_with_the_reason(team, doer):
    run = services.start_run(template=_two_children_joined(team), title="pair", owner=doer, by=doer)
    team.templates.filter(slug="right").update(is_active=False)
    finish(run, "go", taker=doer)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "The sub-workflow of step 'R' could not start" in run.failure_reason
    assert "'Right' is inactive" in run.failure_reason
    assert not Run.objects.filter(parent_task__run=run, status=RunStatus.RUNNING).exists()


def test_a_child_ending_while_a_lead_holds_the_waiting_task_still_moves_the_parent_on(parent, doer):
    task_services.hold(task=open_task(parent, "crm"), by=doer, note="Checking.")
    finish(_child_of(parent), "work", "passed", taker=doer)
    waiting = Task.objects.get(run=parent, step__key="crm")
    assert (waiting.state, waiting.outcome) == (State.DONE, "passed")
    assert open_task(parent, "after")
