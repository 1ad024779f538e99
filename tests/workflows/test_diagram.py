"""The SVG diagram: loop-backs, joins and outcome labels are visible."""

import copy
import re

from apps.workflows import definitions, diagram, exchange


def test_routes_back_to_an_earlier_step_are_drawn_as_loop_backs(ml_template):
    svg = str(diagram.render(ml_template))
    assert svg.count('class="edge loop"') == 4  # evaluate, review, staging, deploy → train
    assert ">changes requested / rejected<" in svg


def test_steps_are_laid_out_left_to_right_in_route_order(ml_template):
    svg = str(diagram.render(ml_template))
    xs = [
        float(re.search(rf'data-step="{key}">.*?<rect class="box" x="([\d.]+)"', svg).group(1))
        for key in ("train", "evaluate", "review", "staging", "deploy")
    ]
    assert xs == sorted(xs)
    assert len(set(xs)) == 5


def test_a_join_step_is_marked(team, skills):
    for part in definitions.ONBOARDING_PARTS.values():
        exchange.import_template(copy.deepcopy(part), team=team)
    template = exchange.import_template(copy.deepcopy(definitions.ONBOARDING), team=team)
    svg = str(diagram.render(template))
    assert re.search(r'data-step="first-day">.*?>JOIN<', svg)


def test_step_names_are_escaped(ml_template):
    ml_template.steps.filter(key="train").update(name="<script>x</script>")
    svg = str(diagram.render(ml_template))
    assert "<script>x" not in svg
    assert "&lt;script&gt;" in svg
