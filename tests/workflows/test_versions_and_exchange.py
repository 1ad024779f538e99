"""Runs keep their version; templates round-trip through JSON; bad imports change nothing."""

import json

import pytest
from django.core.management import call_command

from apps.workflows import exchange, services
from apps.workflows.models import Route, Step, WorkflowTemplate

from .helpers import finish, open_task


def test_editing_a_template_mid_run_leaves_the_run_on_its_old_version(ml_template, lead, trainer):
    run = services.start_run(template=ml_template, title="churn", owner=lead, by=lead)
    edited = services.editable_version(template=ml_template, by=lead)
    assert edited.pk != ml_template.pk
    assert edited.version == 2
    Step.objects.filter(template=edited, key="evaluate").update(name="Evaluate v2")
    Route.objects.filter(template=edited, from_step__key="train").update(
        to_step=Step.objects.get(template=edited, key="review")
    )
    finish(run, "train")
    run.refresh_from_db()
    assert run.template == ml_template
    assert open_task(run, "evaluate").step.name == "Evaluate"


def test_new_runs_start_on_the_published_version_and_the_old_one_cannot_start(ml_template, lead):
    services.start_run(template=ml_template, title="first", owner=lead, by=lead)
    edited = services.publish_draft(
        draft=services.editable_version(template=ml_template, by=lead), by=lead
    )
    assert services.start_run(template=edited, title="second", owner=lead, by=lead).template == (
        edited
    )
    with pytest.raises(services.WorkflowError, match="replaced by a newer one"):
        services.start_run(template=ml_template, title="third", owner=lead, by=lead)


def test_a_version_without_runs_is_edited_in_place(ml_template, lead):
    assert services.editable_version(template=ml_template, by=lead) == ml_template


def test_export_then_import_round_trips_to_an_equal_template(ml_template, team):
    exported = exchange.export_template(ml_template)
    ml_template.slug = "old"
    ml_template.save()
    imported = exchange.import_template(json.dumps(exported), team=team)
    assert imported.pk != ml_template.pk
    assert exchange.export_template(imported) == exported


def test_malformed_json_changes_nothing_and_says_why(ml_template, team):
    before = list(WorkflowTemplate.objects.values_list("pk", "version"))
    with pytest.raises(services.WorkflowError) as refused:
        exchange.import_template('{"slug": "x", "steps": [', team=team)
    assert refused.value.problems[0].startswith("The file is not valid JSON")
    assert list(WorkflowTemplate.objects.values_list("pk", "version")) == before


def test_an_invalid_import_lists_every_problem_and_changes_nothing(ml_template, team, definition):
    definition["steps"][0]["kind"] = "magic"
    definition["steps"][1]["required_skill"] = "telepathy"
    definition["routes"].append({"from": "train"})
    steps_before = Step.objects.count()
    with pytest.raises(services.WorkflowError) as refused:
        exchange.import_template(definition, team=team)
    assert refused.value.problems == [
        "Step 'train' has kind 'magic': use one of manual, review, automated, external, "
        "subworkflow.",
        "Step 'evaluate' requires skill 'telepathy', which does not exist: create the skill "
        "first or fix its slug.",
        "Route #11 needs 'from', 'outcome' and 'to' (null for END).",
        "Routes and steps are checked as a workflow once these are fixed.",
    ]
    assert Step.objects.count() == steps_before


def test_importing_over_a_template_with_runs_writes_a_new_version(ml_template, lead, definition):
    services.start_run(template=ml_template, title="busy", owner=lead, by=lead)
    definition["steps"][0]["name"] = "Train (GPU)"
    imported = exchange.import_template(definition, team=ml_template.team)
    assert (imported.version, imported.is_current) == (2, True)
    assert ml_template.steps.get(key="train").name == "Train model"


def test_the_management_commands_export_and_import(ml_template, tmp_path, team):
    path = tmp_path / "ml.json"
    call_command("export_workflow", "data-science", "ml-deployment", output=str(path))
    WorkflowTemplate.objects.filter(pk=ml_template.pk).update(slug="renamed")
    call_command("import_workflow", str(path))
    imported = WorkflowTemplate.objects.get(slug="ml-deployment", is_current=True)
    assert exchange.export_template(imported) == json.loads(path.read_text())


def test_the_import_command_lists_problems_and_exits_with_an_error(tmp_path, team):
    from django.core.management.base import CommandError

    path = tmp_path / "bad.json"
    path.write_text("[1, 2]")
    with pytest.raises(CommandError, match="one JSON object"):
        call_command("import_workflow", str(path))
