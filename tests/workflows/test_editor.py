"""The template editor shows what it does: outcome options per step, ordering without typing
positions, the live diagram (unsaved form → preview) and the dry run."""

import re

import pytest
from django.urls import reverse

from apps.workflows import services
from apps.workflows.models import Step

from .editor_forms import change_form_data


def url(name, *args):
    return reverse(f"team_admin:workflows_workflowtemplate_{name}", args=args)


def _options(html, name):
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return [v for v in re.findall(r'<option value="([^"]*)"', select) if v]


def _route_row(ml_template, from_key):
    """The index of the route row (in the inline) of the first route from this step."""
    routes = list(ml_template.routes.all())
    return next(i for i, r in enumerate(routes) if r.from_step.key == from_key)


@pytest.mark.parametrize(
    ("step", "outcomes"),
    [
        ("train", ["done"]),
        ("evaluate", ["done"]),
        ("review", ["approved", "changes_requested", "rejected"]),
        ("staging", ["passed", "failed"]),
    ],
)
def test_a_route_offers_only_the_outcomes_its_step_can_produce(
    client_for, lead, ml_template, step, outcomes
):
    html = client_for(lead).get(url("change", ml_template.pk)).content.decode()
    row = _route_row(ml_template, step)
    assert _options(html, f"routes-{row}-outcome") == outcomes


def test_a_new_route_row_says_per_step_which_outcomes_it_can_pick(client_for, lead, ml_template):
    html = client_for(lead).get(url("change", ml_template.pk)).content.decode()
    review = ml_template.steps.get(key="review")
    # The editor's script narrows the new row's outcomes from these once a step is chosen.
    assert f'value="{review.pk}" data-outcomes="approved changes_requested rejected"' in html
    assert "workflow_editor.js" in html
    assert 'id="wf-editor-config"' in html


def test_the_route_inline_shows_the_condition_and_the_position(client_for, lead, ml_template):
    html = client_for(lead).get(url("change", ml_template.pk)).content.decode()
    assert 'name="routes-0-condition"' in html
    assert 'name="routes-0-position"' in html


def test_step_positions_are_not_typed_but_set_by_moving_steps(client_for, lead, ml_template):
    """The position is a hidden input the Move up/down buttons (and dragging) fill in; posting
    the new order saves it."""
    client = client_for(lead)
    response = client.get(url("change", ml_template.pk))
    html = response.content.decode()
    assert re.search(r'<input type="hidden" name="steps-0-position"[^>]*data-wf-position', html)
    data = change_form_data(response)
    # "Move down" on the first step (train) swaps it with the second (evaluate).
    data["steps-0-position"], data["steps-1-position"] = "1", "0"
    assert client.post(url("change", ml_template.pk), data).status_code == 302
    keys = list(Step.objects.filter(template=ml_template).values_list("key", flat=True))
    assert keys[:2] == ["evaluate", "train"]


# --- the live diagram: the unsaved form, previewed -------------------------------------------


@pytest.fixture
def conditioned(ml_template):
    """The shipped ML template, driven by data: Evaluate records `accuracy`; done with
    `accuracy >= inputs.threshold` goes to Peer review, otherwise back to Train."""
    template = ml_template
    assert template.routes.filter(condition="accuracy >= inputs.threshold").exists()
    return template


def _form(client, template):
    return change_form_data(client.get(url("change", template.pk)))


def _row_of(data, template, from_key, outcome):
    """The inline prefix ("routes-3") of the first route row from this step on this outcome."""
    step = template.steps.get(key=from_key)
    return next(
        name.removesuffix("-from_step")
        for name, value in data.items()
        if name.startswith("routes-")
        and name.endswith("-from_step")
        and value == str(step.pk)
        and data[name.replace("-from_step", "-outcome")] == outcome
    )


def _node(html, key):
    return re.search(rf'<g class="([^"]*)" data-step="{key}"><title>([^<]*)</title>', html)


def test_the_preview_draws_the_unsaved_form_with_problems_on_their_step_and_saves_nothing(
    client_for, lead, conditioned
):
    client = client_for(lead)
    data = _form(client, conditioned)
    row = _row_of(data, conditioned, "evaluate", "done")
    data[f"{row}-condition"] = "acuracy >= inputs.threshold"  # a typo: no such output
    response = client.post(url("preview", conditioned.pk), data)
    html = response.content.decode()
    assert response.status_code == 200
    classes, title = _node(html, "evaluate").groups()
    assert "problem" in classes.split()
    assert "acuracy" in title  # the message is the step's <title>
    assert "⚠ 1 problem" in html
    assert "Version 1 — 1 problem: runs can&#x27;t start" in html
    assert "problem" not in _node(html, "train").group(1).split()
    route = conditioned.routes.get(from_step__key="evaluate", to_step__key="review")
    assert route.condition == "accuracy >= inputs.threshold"  # nothing saved


def test_the_preview_labels_arrows_with_their_conditions(client_for, lead, conditioned):
    client = client_for(lead)
    html = client.post(url("preview", conditioned.pk), _form(client, conditioned))
    html = html.content.decode()
    assert "done: accuracy &gt;= inputs.threshold" in html
    assert "done: otherwise" in html
    assert "Valid: runs can start." in html


def test_the_preview_shows_a_new_unsaved_step(client_for, lead, conditioned):
    client = client_for(lead)
    data = _form(client, conditioned)
    total = int(data["steps-TOTAL_FORMS"])
    data.update(
        {
            "steps-TOTAL_FORMS": str(total + 1),
            f"steps-{total}-key": "announce",
            f"steps-{total}-name": "Announce the model",
            f"steps-{total}-kind": "manual",
            f"steps-{total}-manual_outcomes": "done",
            f"steps-{total}-min_level": "1",
            f"steps-{total}-assignment_policy": "auto",
            f"steps-{total}-max_iterations": "5",
            f"steps-{total}-position": str(total),
        }
    )
    html = client.post(url("preview", conditioned.pk), data).content.decode()
    assert _node(html, "announce") is not None
    assert "problem" in _node(html, "announce").group(1).split()  # not routed yet
    assert not conditioned.steps.filter(key="announce").exists()


def test_a_read_only_version_is_previewed_as_stored(client_for, lead, conditioned):
    services.start_run(template=conditioned, title="busy", owner=lead, by=lead, inputs={})
    client = client_for(lead)
    html = client.post(url("preview", conditioned.pk), {"routes-0-condition": "nonsense"})
    assert "nonsense" not in html.content.decode()
    assert "done: accuracy &gt;= inputs.threshold" in html.content.decode()


def test_the_preview_reads_the_forms_choices_and_rows_once_not_per_route(
    client_for, lead, conditioned, django_assert_max_num_queries
):
    """Each route row's steps and id are resolved among the rows read once (it was 60 queries
    on the ML template, 2 a route); what is left is the forms' own per-step checks."""
    client = client_for(lead)
    data = _form(client, conditioned)
    with django_assert_max_num_queries(20):
        client.post(url("preview", conditioned.pk), data)


# --- the dry run ---------------------------------------------------------------------------


def _dry_run(client, template, **samples):
    data = {**_form(client, template), "dry-run": "1"}
    data.update({f"dry-{name}": value for name, value in samples.items()})
    return client.post(url("preview", template.pk), data).content.decode()


def _on_path(html):
    return {
        key
        for classes, key in re.findall(r'<g class="([^"]*)" data-step="([^"]+)">', html)
        if "on-path" in classes.split()
    }


def test_a_dry_run_above_the_threshold_goes_to_review_and_reaches_end(
    client_for, lead, conditioned
):
    html = _dry_run(
        client_for(lead),
        conditioned,
        **{
            "in__threshold": "0.9",
            "evaluate__outcome": "done",
            "evaluate__out__accuracy": "0.95",
        },
    )
    assert _on_path(html) == {"train", "evaluate", "review", "staging", "deploy", "END"}
    assert "the run reaches END in 5 steps" in html
    assert "[accuracy &gt;= inputs.threshold]" in html
    assert re.search(r'<g class="end[^"]*on-path', html)


def test_a_dry_run_below_the_threshold_loops_back_until_the_loop_limit(
    client_for, lead, conditioned
):
    html = _dry_run(
        client_for(lead),
        conditioned,
        **{"evaluate__outcome": "done", "evaluate__out__accuracy": "0.5"},
    )
    assert _on_path(html) == {"train", "evaluate"}
    assert "(not: accuracy &gt;= inputs.threshold)" in html
    assert (
        "Step &#x27;train&#x27; would be reached a 6th time, more than its limit of 5: the run "
        "fails here." in html
    )
    assert "review" not in _on_path(html)


def test_a_dry_run_with_a_mistyped_sample_says_so_and_draws_no_path(client_for, lead, conditioned):
    html = _dry_run(client_for(lead), conditioned, **{"evaluate__out__accuracy": "high"})
    assert "The sample values can't be used" in html
    assert "&#x27;high&#x27; is not a number" in html
    assert _on_path(html) == set()
