"""Run pages: who sees what, starting and cancelling, and how many queries they cost."""

import json

import pytest
from django.urls import reverse

from apps.workflows import services
from apps.workflows.models import Run, RunStatus

from ..html import text_of, texts_of
from .conftest import GOOD_INPUTS
from .helpers import finish, open_task


@pytest.fixture
def run(ml_template, lead):
    return services.start_run(template=ml_template, title="churn-v3", owner=lead, by=lead)


def _start_url(team):
    return reverse("workflows:run_start", args=[team.slug])


def test_a_member_starts_a_run_from_the_form(client_for, trainer, ml_template, team):
    response = client_for(trainer).post(
        _start_url(team),
        {"template": ml_template.pk, "title": "churn-v9", "inputs": json.dumps(GOOD_INPUTS)},
    )
    run = Run.objects.get(title="churn-v9")
    assert response.status_code == 302
    assert response.url == run.get_absolute_url()
    assert (run.owner, run.inputs) == (trainer, {**GOOD_INPUTS, "threshold": 0.9})


def test_inputs_that_are_not_json_start_nothing_and_say_why(client_for, lead, ml_template, team):
    response = client_for(lead).post(
        _start_url(team), {"template": ml_template.pk, "title": "x", "inputs": "{oops"}
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.content.decode()
    assert not Run.objects.exists()


def test_starting_an_invalid_template_lists_its_problems(client_for, lead, ml_template, team):
    ml_template.routes.filter(from_step__key="deploy", outcome="failed").delete()
    response = client_for(lead).post(_start_url(team), {"template": ml_template.pk, "title": "x"})
    assert response.status_code == 422
    assert "Step &#x27;deploy&#x27; has no route for outcome &#x27;failed&#x27;" in (
        response.content.decode()
    )
    assert not Run.objects.exists()


def test_another_teams_run_is_not_found(client_for, outsider, run):
    assert client_for(outsider).get(run.get_absolute_url()).status_code == 404


def test_another_teams_run_list_is_not_found(client_for, outsider, team):
    url = reverse("workflows:run_list", args=[team.slug])
    assert client_for(outsider).get(url).status_code == 404


def test_the_run_page_highlights_the_current_step_and_shows_finished_outcomes(
    client_for, trainer, run
):
    finish(run, "train")
    html = client_for(trainer).get(run.get_absolute_url()).content.decode()
    assert 'class="node manual done" data-step="train"' in html
    assert 'class="node manual current" data-step="evaluate"' in html
    assert "✓ done" in html


def test_the_run_list_filters_by_status(client_for, lead, run, ml_template):
    other = services.start_run(template=ml_template, title="old-run", owner=lead, by=lead)
    services.cancel_run(run=other, by=lead)
    url = reverse("workflows:run_list", args=[run.team.slug])
    html = client_for(lead).get(url, {"status": "cancelled"}).content.decode()
    assert "old-run" in html
    assert "churn-v3" not in html


def test_a_member_who_does_not_own_the_run_cannot_cancel_it(client_for, trainer, run):
    response = client_for(trainer).post(reverse("workflows:run_cancel", args=[run.pk]))
    assert response.status_code == 403
    assert "Only the run&#x27;s owner or a team lead can cancel it." in response.content.decode()
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING


def test_the_task_page_links_to_its_run(client_for, trainer, run):
    task = open_task(run, "train")
    html = client_for(trainer).get(task.get_absolute_url()).content.decode()
    assert text_of(html, testid="task-run").startswith(f"Step Train model of run {run.title}")
    assert f'href="{run.get_absolute_url()}" data-testid="run-link"' in html


@pytest.mark.parametrize("runs", [2, 20])
def test_the_run_list_costs_the_same_queries_for_2_or_20_runs(
    client_for, lead, ml_template, django_assert_max_num_queries, runs
):
    for i in range(runs):
        services.start_run(template=ml_template, title=f"run {i}", owner=lead, by=lead)
    client = client_for(lead)
    url = reverse("workflows:run_list", args=[ml_template.team.slug])
    with django_assert_max_num_queries(7):
        response = client.get(url)
    listed = text_of(response, id="run-rows")
    row = "run {} · 1 task ML model deployment v1 Running Train model"
    assert all(row.format(i) in listed for i in range(runs))


@pytest.mark.parametrize("loops", [0, 3])
def test_the_run_page_costs_the_same_queries_however_many_iterations(
    client_for, lead, run, django_assert_max_num_queries, loops
):
    for _ in range(loops):
        finish(run, "train")
        finish(run, "evaluate", "failed")
    client = client_for(lead)
    with django_assert_max_num_queries(7):
        response = client.get(run.get_absolute_url())
    # Every iteration's train and evaluate tasks, and the open train task.
    assert len(texts_of(response, class_="state")) == 2 * loops + 1


def test_the_start_page_previews_each_workflow_in_few_queries(
    client_for, lead, ml_template, team, django_assert_max_num_queries
):
    client = client_for(lead)
    with django_assert_max_num_queries(10):
        html = client.get(_start_url(team)).content.decode()
    assert 'data-step="review"' in html


def test_the_run_page_refreshes_its_main_part_for_htmx(client_for, lead, run):
    response = client_for(lead).get(run.get_absolute_url(), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="run-main"')
    assert "<html" not in html
