"""Finishing a step with its outputs (task page, drawer, board, API) and typed run inputs
(start form, API): what is asked for, what is refused, and that a refusal changes nothing."""

import copy
import json

import pytest
from django.urls import reverse

from apps.api.testing import personal_token_for_tests
from apps.tasks import services as task_services
from apps.workflows import definitions, exchange, services
from apps.workflows.models import Run
from apps.workflows.validation import Graph, RouteSpec, StepSpec, validate

from .helpers import finish, open_task, tick_required

pytestmark = pytest.mark.django_db


@pytest.fixture
def evaluating(ml_template, lead):
    """An ML run whose Evaluate task is in progress with its criteria ticked."""
    run = services.start_run(template=ml_template, title="churn-v9", owner=lead, by=lead)
    finish(run, "train")
    task = open_task(run, "evaluate")
    task = task_services.start(task=task, by=task.assignee)
    tick_required(task)
    return task


def _complete_url(task):
    return reverse("tasks:task_transition", args=[task.pk, "complete"])


def test_the_task_page_asks_for_the_steps_outputs(client_for, evaluating):
    page = client_for(evaluating.assignee).get(evaluating.get_absolute_url()).content.decode()
    assert "Outputs of Evaluate" in page
    assert 'name="output_accuracy"' in page


def test_the_outputs_form_refuses_a_missing_or_mistyped_value_and_changes_nothing(
    client_for, evaluating
):
    client = client_for(evaluating.assignee)
    for typed, sentence in (
        ("", "Accuracy (accuracy) is required: fill it in."),
        ("high", "Accuracy (accuracy): &#x27;high&#x27; is not a number."),
    ):
        response = client.post(
            _complete_url(evaluating),
            {"outputs_shown": "1", "output_accuracy": typed, "outcome": "done"},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 422
        body = response.content.decode()
        assert sentence in body
        assert f'value="{typed}"' in body  # what was typed comes back
        evaluating.refresh_from_db()
        assert (evaluating.state, evaluating.outputs) == ("in_progress", {})


def test_the_outputs_form_records_the_outputs_and_routes_on_them(client_for, evaluating):
    response = client_for(evaluating.assignee).post(
        _complete_url(evaluating), {"outputs_shown": "1", "output_accuracy": "0.93"}
    )
    assert response.status_code == 302
    evaluating.refresh_from_db()
    assert (evaluating.state, evaluating.outputs) == ("done", {"accuracy": 0.93})
    assert open_task(evaluating.run, "review")


def test_a_board_drag_to_done_of_a_step_with_required_outputs_is_refused(client_for, evaluating):
    response = client_for(evaluating.assignee).post(
        reverse("boards:move", args=[evaluating.pk]),
        {"from_state": "in_progress", "to": "done"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    assert "Evaluate records Accuracy when it is finished" in response.content.decode()
    evaluating.refresh_from_db()
    assert evaluating.state == "in_progress"


def test_the_drawer_finishes_with_outputs(client_for, evaluating):
    response = client_for(evaluating.assignee).post(
        reverse("boards:move", args=[evaluating.pk]),
        {
            "ctx": "drawer",
            "action": "complete",
            "outcome": "done",
            "expected_state": "in_progress",
            "outputs_shown": "1",
            "output_accuracy": "0.95",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200, response.content.decode()[:500]
    evaluating.refresh_from_db()
    assert evaluating.outputs == {"accuracy": 0.95}


def test_the_api_completes_with_outputs_and_refuses_without_them(client, evaluating):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {personal_token_for_tests(evaluating.assignee)}"}
    url = f"/api/v1/tasks/{evaluating.pk}/transitions"

    def post(body):
        return client.post(url, json.dumps(body), content_type="application/json", **headers)

    refused = post({"action": "complete"})
    assert refused.status_code == 422
    assert "Evaluate records Accuracy" in refused.json()["detail"]
    mistyped = post({"action": "complete", "outputs": {"accuracy": [1]}})
    assert mistyped.status_code == 422 and "must be a number" in mistyped.json()["detail"]
    done = post({"action": "complete", "outputs": {"accuracy": 0.91}})
    assert done.status_code == 200, done.content
    assert done.json()["outputs"] == {"accuracy": 0.91}


# --- typed run inputs ----------------------------------------------------------------------------


def test_the_start_form_shows_the_workflows_inputs_with_their_defaults(
    client_for, ml_template, trainer
):
    page = client_for(trainer).get(
        reverse("workflows:run_start", args=[ml_template.team.slug]),
        {"template": ml_template.pk},
    )
    body = page.content.decode()
    assert 'name="input_threshold"' in body and 'value="0.9"' in body
    assert "Accuracy threshold" in body


def test_the_start_form_refuses_a_mistyped_input_and_starts_nothing(
    client_for, ml_template, trainer
):
    response = client_for(trainer).post(
        reverse("workflows:run_start", args=[ml_template.team.slug]),
        {"template": ml_template.pk, "title": "churn-v9", "input_threshold": "high"},
    )
    assert response.status_code == 422
    assert "Enter a number." in response.content.decode()
    assert not Run.objects.exists()


def test_the_start_form_asks_for_the_workflows_inputs_before_the_free_form_rest(
    client_for, ml_template, trainer
):
    body = (
        client_for(trainer)
        .get(
            reverse("workflows:run_start", args=[ml_template.team.slug]),
            {"template": ml_template.pk},
        )
        .content.decode()
    )
    assert body.index('name="input_threshold"') < body.index('name="inputs"')


def test_the_run_page_shows_the_inputs_by_their_labels(client_for, ml_template, lead):
    run = services.start_run(
        template=ml_template,
        title="churn-v9",
        owner=lead,
        by=lead,
        inputs={"threshold": 0.85, "metrics": {"auc": 0.9}},
    )
    page = client_for(lead).get(run.get_absolute_url()).content.decode()
    assert "<dt>Accuracy threshold</dt><dd>0.85</dd>" in page
    assert "<dt>Other inputs</dt>" in page and "&quot;auc&quot;: 0.9" in page


def test_start_run_fills_defaults_and_refuses_wrong_types(ml_template, lead):
    run = services.start_run(template=ml_template, title="x", owner=lead, by=lead)
    assert run.inputs == {"model": "churn-model", "threshold": 0.9}
    with pytest.raises(services.WorkflowError) as refused:
        services.start_run(
            template=ml_template, title="y", owner=lead, by=lead, inputs={"threshold": "high"}
        )
    assert refused.value.problems == ["Accuracy threshold (threshold): 'high' is not a number."]
    assert Run.objects.count() == 1


# --- validation --------------------------------------------------------------------------------


def _ml_graph(**route_overrides) -> Graph:
    steps = [
        StepSpec(key="train", is_start=True),
        StepSpec(
            key="evaluate",
            output_fields=({"name": "accuracy", "type": "number", "required": True},),
        ),
        StepSpec(key="peer-review"),
    ]
    routes = [
        RouteSpec("train", "done", "evaluate"),
        RouteSpec("evaluate", "done", "train", condition="", position=0),
        RouteSpec("evaluate", "done", "peer-review", condition="accuracy >= 0.9", position=1),
        RouteSpec("peer-review", "done", None),
    ]
    for index, condition in route_overrides.items():
        routes[int(index[1:])] = RouteSpec(
            routes[int(index[1:])].from_key,
            "done",
            routes[int(index[1:])].to_key,
            condition=condition,
            position=routes[int(index[1:])].position,
        )
    return Graph(
        steps=steps,
        routes=routes,
        input_fields=[{"name": "threshold", "type": "number", "default": 0.9}],
    )


def test_validation_names_the_step_and_route_of_a_bad_condition():
    assert validate(_ml_graph()) == []
    assert validate(_ml_graph(r2="acuracy >= inputs.threshold")) == [
        "Step 'evaluate', route 2 (done → peer-review): 'acuracy' is not an input or output "
        "known here: use one of accuracy, evaluate.accuracy, inputs.threshold."
    ]
    assert validate(_ml_graph(r2="accuracy >= 'high'")) == [
        "Step 'evaluate', route 2 (done → peer-review): accuracy (number) is compared with "
        "'high' (text) (text): compare values of the same type."
    ]


def test_validation_refuses_an_outcome_with_only_conditional_routes():
    problems = validate(_ml_graph(r1="accuracy < 0.9"))
    assert (
        "Step 'evaluate', outcome 'done': every route has a condition and none is the default, "
        "so a case where no condition holds is unrouted: add a route without a condition "
        "(taken when none holds)." in problems
    )


def test_validation_refuses_badly_declared_fields():
    graph = _ml_graph()
    graph.input_fields = [{"name": "Threshold!", "type": "number"}, {"name": "n", "type": "int"}]
    assert validate(graph)[:2] == [
        "Run inputs: Field 1 has the name 'Threshold!': use lower-case letters, digits and _ "
        "(starting with a letter, at most 50), e.g. accuracy.",
        "Run inputs: Field 'n' has the type 'int': use one of number, text, boolean, url, choice.",
    ]


# --- export / import -----------------------------------------------------------------------------


def test_export_and_import_carry_inputs_outputs_and_conditions(ml_template, team):
    exported = exchange.export_template(ml_template)
    assert exported["input_fields"][1]["name"] == "threshold"
    evaluate = next(s for s in exported["steps"] if s["key"] == "evaluate")
    assert evaluate["output_fields"][0]["name"] == "accuracy"
    conditional = [r for r in exported["routes"] if r["condition"]]
    assert conditional == [
        {
            "from": "evaluate",
            "outcome": "done",
            "to": "review",
            "condition": "accuracy >= inputs.threshold",
            "position": 0,
        }
    ]
    document = copy.deepcopy(exported) | {"slug": "ml-copy"}
    imported = exchange.import_template(document, team=team)
    assert exchange.export_template(imported) == document


def test_an_older_document_without_the_new_fields_still_imports(team, skills):
    document = copy.deepcopy(definitions.SUPPORT_ESCALATION)
    document.pop("input_fields", None)
    for route in document["routes"]:
        route.pop("condition", None)
        route.pop("position", None)
    imported = exchange.import_template(document, team=team)
    assert imported.input_fields == []
    assert all(r.condition == "" for r in imported.routes.all())


def test_an_external_report_carries_the_steps_outputs(ml_template, lead):
    ml_template.steps.filter(key="staging").update(
        output_fields=[{"name": "auc", "type": "number", "label": "AUC", "required": True}]
    )
    run = services.start_run(template=ml_template, title="churn-v9", owner=lead, by=lead)
    finish(run, "train")
    finish(run, "evaluate", {"accuracy": 0.95})
    finish(run, "review", "approved")
    staging = open_task(run, "staging")
    caller = services.TeamCaller(team=run.team)
    with pytest.raises(services.ExternalReportError) as refused:
        services.report_external_result(
            task=staging, outcome="passed", outputs={"auc": "n/a"}, caller=caller
        )
    assert refused.value.problems == ["AUC (auc): 'n/a' is not a number."]
    staging.refresh_from_db()
    assert staging.state == "in_progress"
    services.report_external_result(
        task=staging, outcome="passed", outputs={"auc": 0.91}, caller=caller
    )
    staging.refresh_from_db()
    assert (staging.state, staging.outputs) == ("done", {"auc": 0.91})
