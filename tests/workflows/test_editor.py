"""The template editor shows what it does: outcome options per step, ordering without typing
positions, the live diagram (unsaved form → preview) and the dry run."""

import re

import pytest
from django.urls import reverse

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
        ("evaluate", ["passed", "failed"]),
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
