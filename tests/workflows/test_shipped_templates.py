"""Every shipped template runs end to end from its start form's defaults, as its people would
walk it: started through the start form with the values it shows, every person's step done
(with the outputs it asks for), every review approved by someone who did no earlier step,
external steps reported passed by their system, automated steps run by their action."""

import pytest
from django.urls import reverse

from apps.people.models import Role
from apps.tasks import services as task_services
from apps.tasks.models import UNFINISHED_STATES, State, Task
from apps.workflows import definitions, exchange, services
from apps.workflows.forms import INPUT_PREFIX, StartRunForm
from apps.workflows.models import RouteTaken, Run, RunStatus, StepKind

from ..factories import PersonSkillFactory, SkillFactory
from .helpers import tick_required

pytestmark = pytest.mark.django_db

REVIEW_SKILLS = {"ml-review", "code-review", "editing"}
# What a person records for a step's outputs in a good run (by output name).
GOOD_OUTPUTS = {"accuracy": 0.95}


@pytest.fixture
def crew(team, make_member):
    """A doer and a reviewer (both leads, every skill at level 5) for every shipped template."""
    slugs = {s.get("required_skill") for d in definitions.ALL for s in d["steps"]} - {None}
    skills = [SkillFactory(slug=slug, is_review_skill=slug in REVIEW_SKILLS) for slug in slugs]
    people = []
    for name in ("doer", "checker"):
        person = make_member(Role.LEAD, username=name, capacity=50)
        for skill in skills:
            PersonSkillFactory(user=person, skill=skill, level=5)
        people.append(person)
    return people


def _good_outputs(task: Task) -> dict:
    outputs = {}
    for spec in task_services.output_specs(task):
        if spec["name"] in GOOD_OUTPUTS:
            outputs[spec["name"]] = GOOD_OUTPUTS[spec["name"]]
        elif spec["required"]:
            outputs[spec["name"]] = {
                "number": 1,
                "text": "ok",
                "boolean": True,
                "url": "https://example.com",
                "choice": (spec.get("choices") or [""])[0],
            }[spec["type"]]
    return outputs


def _do(task: Task, doer, checker, team) -> None:
    if task.step.kind == StepKind.EXTERNAL:
        services.report_external_result(
            task=task, outcome="passed", caller=services.TeamCaller(team=team)
        )
        return
    person = checker if task.is_review_step else doer
    if task.state == State.TODO or task.assignee_id != person.pk:
        if task.state == State.ASSIGNED:
            task = task_services.unassign(task=task, by=person)
        task = task_services.assign_to(task=task, assignee=person, by=person)
    task = task_services.start(task=task, by=person)
    if task.is_review_step:
        task_services.approve(task=task, by=person)
        return
    tick_required(task, by=person)
    outcome = "passed" if "passed" in task_services.allowed_outcomes(task) else None
    services.finish_step(task=task, by=person, outcome=outcome, outputs=_good_outputs(task))


def _start_from_the_form(client, template) -> Run:
    """POST the start form with exactly the values it shows for this workflow."""
    url = reverse("workflows:run_start", args=[template.team.slug])
    assert client.get(url, {"template": template.pk}).status_code == 200
    form = StartRunForm(templates=type(template).objects.filter(pk=template.pk), chosen=template)
    data = {"template": template.pk, "title": f"{template.name} from its defaults"}
    for name, field in form.fields.items():
        if name.startswith(INPUT_PREFIX) and field.initial is not None:
            data[name] = field.initial
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Run.objects.get(template=template)


@pytest.mark.parametrize("document", definitions.ALL, ids=[d["slug"] for d in definitions.ALL])
def test_every_shipped_template_runs_end_to_end_from_its_start_form_defaults(
    document, team, crew, client_for, django_capture_on_commit_callbacks
):
    doer, checker = crew
    templates = {
        d["slug"]: exchange.import_template(d, team=team) for d in definitions.ALL
    }  # all of them: a sub-workflow step starts another shipped template
    run = _start_from_the_form(client_for(doer), templates[document["slug"]])
    for _round in range(60):
        open_tasks = Task.objects.filter(
            run__team=team, run__status=RunStatus.RUNNING, state__in=UNFINISHED_STATES
        ).select_related("step")
        workable = [t for t in open_tasks if t.step.kind != getattr(StepKind, "SUBWORKFLOW", "")]
        if not workable:
            break
        with django_capture_on_commit_callbacks(execute=True):
            _do(workable[0], doer, checker, team)
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED, run.failure_reason
    assert not RouteTaken.objects.filter(run=run, is_loop_back=True).exists()
