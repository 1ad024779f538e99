"""Workflow runs on the board: the run/step line, lanes by run and template, run filters."""

import copy

import pytest
from django.urls import reverse

from apps.people.models import Role
from apps.tasks import services as task_services
from apps.tasks.models import Task
from apps.workflows import definitions, exchange, services
from tests.factories import PersonSkillFactory, SkillFactory
from tests.html import text_of, texts_of
from tests.workflows.helpers import finish, open_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def ml_template(team, make_member, lead):
    for slug in ("ml-training", "python", "devops", "support", "writing"):
        SkillFactory(slug=slug)
    review = SkillFactory(slug="ml-review", is_review_skill=True)
    trainer = make_member(username="tara", capacity=5)
    PersonSkillFactory(user=trainer, skill=SkillFactory(slug="ml-training"), level=4)
    PersonSkillFactory(user=make_member(Role.REVIEWER, username="rex"), skill=review, level=4)
    return exchange.import_template(copy.deepcopy(definitions.ML_DEPLOYMENT), team=team)


@pytest.fixture
def run(ml_template, lead):
    return services.start_run(
        template=ml_template,
        title="Churn v3",
        owner=lead,
        by=lead,
        inputs={"model": "churn-v3", "metrics": {"auc": 0.91}, "thresholds": {"auc": 0.85}},
    )


def test_card_names_its_run_and_step(client_for, board_url, run, member):
    task = Task.objects.get(run=run)
    html = client_for(member).get(board_url).content.decode()
    card = html.split(f'id="card-{task.pk}"')[1].split("</li>")[0]
    assert "Churn v3" in card and task.step.name in card


def test_run_filter_keeps_only_that_runs_cards(client_for, board_url, run, make_task, member):
    chore = make_task(title="Stand-alone chore")
    html = client_for(member).get(board_url + f"?run={run.pk}").content.decode()
    assert f'id="card-{Task.objects.get(run=run).pk}"' in html
    assert f'id="card-{chore.pk}"' not in html


def test_template_filter_keeps_only_that_workflows_cards(
    client_for, board_url, run, make_task, member
):
    chore = make_task(title="Stand-alone chore")
    html = client_for(member).get(board_url + "?template=ml-deployment").content.decode()
    assert f'id="card-{chore.pk}"' not in html
    assert f'id="card-{Task.objects.get(run=run).pk}"' in html


def test_lanes_by_run_put_stand_alone_work_in_its_own_lane(
    client_for, board_url, run, make_task, member
):
    chore = make_task(title="Stand-alone chore")
    step_task = Task.objects.get(run=run)
    html = client_for(member).get(board_url + "?lane=run").content.decode()
    assert text_of(html, id="lane-0") == "Not in a run"
    assert f'id="card-{chore.pk}"' in html.split('id="cell-0-todo"')[1].split("</ul>")[0]
    run_cell = html.split(f'id="cell-{run.pk}-{step_task.state}"')[1].split("</ul>")[0]
    assert f'id="card-{step_task.pk}"' in run_cell


def test_lanes_by_template_name_the_workflow(client_for, board_url, run, ml_template, member):
    html = client_for(member).get(board_url + "?lane=template").content.decode()
    assert text_of(html, id=f"lane-{ml_template.pk}") == ml_template.name


def test_drawer_links_to_the_run_diagram(client_for, run, member):
    task = Task.objects.get(run=run)
    html = client_for(member).get(reverse("boards:drawer", args=[task.pk])).content.decode()
    assert run.get_absolute_url() in html


def test_drawer_decides_a_review_step_with_the_three_review_buttons(client_for, run):
    finish(run, "train")
    finish(run, "evaluate", "passed")
    review = open_task(run, "review")
    review = task_services.start(task=review, by=review.assignee)
    html = client_for(review.assignee).get(reverse("boards:drawer", args=[review.pk]))
    buttons = texts_of(html.content.decode(), name="action")
    assert {"Approve", "Request changes", "Reject"} <= set(buttons)
    assert "Complete" not in buttons
    assert 'name="outcome"' not in html.content.decode()
