"""One invalid template per validation rule; each error names the step and the fix."""

import pytest

from apps.workflows import exchange, services
from apps.workflows.models import Route, Step, WorkflowTemplate
from apps.workflows.validation import graph_of, validate


def _problems(definition, team):
    return exchange.check_import(definition, team=team)


def _step(definition, key):
    return next(s for s in definition["steps"] if s["key"] == key)


def _drop_route(definition, from_key, outcome):
    definition["routes"] = [
        r for r in definition["routes"] if (r["from"], r["outcome"]) != (from_key, outcome)
    ]


def test_the_shipped_ml_template_is_valid(definition, team, skills):
    assert _problems(definition, team) == []


def test_a_template_needs_a_start_step(definition, team, skills):
    _step(definition, "train")["is_start"] = False
    assert "No start step: tick 'is start'" in _problems(definition, team)[0]


def test_a_template_has_only_one_start_step(definition, team, skills):
    _step(definition, "evaluate")["is_start"] = True
    assert any(
        "Steps 'train', 'evaluate' are all marked as start" in p
        for p in _problems(definition, team)
    )


def test_every_step_is_reachable_from_the_start(definition, team, skills):
    definition["steps"].append({"key": "orphan", "name": "Orphan"})
    definition["routes"].append({"from": "orphan", "outcome": "done", "to": None})
    assert _problems(definition, team) == [
        "Step 'orphan' can't be reached from the start step 'train': route an outcome of an "
        "earlier step to it."
    ]


def test_end_is_reachable_from_every_step(definition, team, skills):
    for route in definition["routes"]:
        if route["from"] == "deploy":
            route["to"] = "deploy"
    problems = _problems(definition, team)
    assert any(p.startswith("Step 'deploy' never leads to END") for p in problems)


def test_every_outcome_of_a_step_is_routed(definition, team, skills):
    _drop_route(definition, "review", "rejected")
    assert _problems(definition, team) == [
        "Step 'review' has no route for outcome 'rejected': add one (to a step or to END)."
    ]


def test_an_outcome_has_only_one_default_route(definition, team, skills):
    definition["routes"].append({"from": "staging", "outcome": "failed", "to": "review"})
    assert _problems(definition, team) == [
        "Step 'staging' routes outcome 'failed' 2 times without a condition: keep one default, "
        "give the others conditions, or tick 'is split' to start the branches in parallel."
    ]


def test_a_route_uses_only_outcomes_the_step_can_produce(definition, team, skills):
    definition["routes"].append({"from": "train", "outcome": "approved", "to": "review"})
    problems = _problems(definition, team)
    assert any("Step 'train' routes outcome 'approved', which a manual step" in p for p in problems)


def test_routes_stay_inside_their_template(ml_template, team):
    other = WorkflowTemplate.objects.create(team=team, name="Other", slug="other")
    stranger = Step.objects.create(template=other, key="stranger", name="Stranger", is_start=True)
    Route.objects.filter(template=ml_template, from_step__key="deploy", outcome="passed").update(
        to_step=stranger
    )
    problems = validate(graph_of(ml_template))
    assert any(
        p.startswith("Step 'deploy' routes 'passed' to step 'stranger' of 'Other'")
        for p in problems
    )


def test_a_review_step_requires_a_reviewing_skill(definition, team, skills):
    _step(definition, "review")["required_skill"] = "python"
    assert _problems(definition, team) == [
        "Review step 'review' must require a reviewing skill (such as ml-review), but 'python' "
        "is not a reviewing skill: pick a reviewing skill."
    ]


def test_an_automated_step_names_a_registered_action(definition, team, skills):
    _step(definition, "deploy")["action"] = "os.system"
    problems = _problems(definition, team)
    assert len(problems) == 1
    assert problems[0].startswith("Automated step 'deploy' needs a registered action, but")


def test_a_join_has_at_least_two_incoming_branches(definition, team, skills):
    _step(definition, "evaluate")["is_join"] = True
    assert _problems(definition, team) == [
        "Step 'evaluate' is a join but only 1 step(s) lead into it: route at least two branches "
        "into it or untick 'is join'."
    ]


def test_starting_an_invalid_template_is_refused_with_every_problem(ml_template, lead):
    Route.objects.filter(template=ml_template, from_step__key="evaluate").delete()
    with pytest.raises(services.WorkflowError) as refused:
        services.start_run(template=ml_template, title="x", owner=lead, by=lead)
    assert refused.value.problems == [
        "Step 'evaluate' has no route for outcome 'done': add one (to a step or to END).",
        "Step 'review' can't be reached from the start step 'train': route an outcome of an "
        "earlier step to it.",
        "Step 'staging' can't be reached from the start step 'train': route an outcome of an "
        "earlier step to it.",
        "Step 'deploy' can't be reached from the start step 'train': route an outcome of an "
        "earlier step to it.",
        "Step 'train' never leads to END: route one of its outcomes onward (to a later step "
        "or to END).",
        "Step 'evaluate' never leads to END: route one of its outcomes onward (to a later step "
        "or to END).",
    ]
    assert not ml_template.runs.exists()
