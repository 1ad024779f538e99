"""A corpus of bad workflow documents: each is refused with a sentence naming what is wrong,
and nothing is written (not a template, a step, a route or a new version)."""

import copy
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.workflows import definitions, exchange, services
from apps.workflows.models import Route, Step, WorkflowTemplate

NESTED = "[" * 100_000 + "]" * 100_000


def _doc(**changes) -> str:
    """The ML deployment document with `changes` applied: "steps.0.name" = value, …"""
    document = copy.deepcopy(definitions.ML_DEPLOYMENT)
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = document
        for part in parents:
            target = target[int(part) if part.isdigit() else part]
        target[int(last) if last.isdigit() else last] = value
    return json.dumps(document)


CORPUS = {
    "malformed": ('{"slug": "x", "steps": [', "The file is not valid JSON"),
    "not an object": ("[1, 2]", "The file must hold one JSON object"),
    "nested 100,000 deep": ('{"steps": ' + NESTED + "}", "The file is nested more than 8 levels"),
    "nested in a step": (
        _doc(**{"steps.0.instructions": [[[[[[[[[["deep"]]]]]]]]]]}),
        "The file is nested more than 8 levels",
    ),
    "oversized (10 MB)": (
        _doc(description="x" * 10_000_000),
        "The file is larger than 1 MB",
    ),
    "not UTF-8": (b'{"name": "\xff\xfe"}', "The file is not UTF-8 text"),
    "NaN": (_doc(**{"steps.0.sla_hours": float("nan")}), "NaN, which is not a number JSON allows"),
    "NUL in a name": (_doc(**{"steps.0.name": "Train\x00"}), "NUL character"),
    "lone surrogate": (
        '{"name": "\\ud800", "slug": "x", "team": "data-science", "steps": [], "routes": []}',
        "broken character",
    ),
    "a list for a skill slug": (
        _doc(**{"steps.0.required_skill": ["ml-training"]}),
        "Step 'train': 'required_skill' must be a skill's slug (text) or null.",
    ),
    "10^30 SLA hours": (
        _doc(**{"steps.0.sla_hours": 10**30}),
        "Step 'train': 'sla_hours' must be a whole number of hours from 0 to 2147483647, or null.",
    ),
    "a boolean for SLA hours": (
        _doc(**{"steps.0.sla_hours": True}),
        "Step 'train': 'sla_hours' must be a whole number of hours from 0 to 2147483647",
    ),
    "over-long step key": (
        _doc(**{"steps.0.key": "t" * 51}),
        "Step 'ttttttttt",  # its routes then name an unknown step too
    ),
    "non-slug step key": (
        _doc(**{"steps.0.key": "train model!"}),
        "Step 'train model!': key: Enter a valid “slug”",
    ),
    "a number for a step key": (_doc(**{"steps.0.key": 7}), "Step #1 has no 'key'"),
    "non-slug template slug": (
        _doc(slug="ML deployment"),
        "Workflow: slug: Enter a valid “slug”",
    ),
    "over-long template slug": (
        _doc(slug="m" * 81),
        "Workflow: slug: Ensure this value has at most 80 characters (it has 81).",
    ),
    "100,000-character workflow name": (
        _doc(name="n" * 100_000),
        "Workflow: name: Ensure this value has at most 120 characters (it has 100000).",
    ),
    "100,000-character step name": (
        _doc(**{"steps.0.name": "n" * 100_000}),
        "Step 'train': name: Ensure this value has at most 120 characters (it has 100000).",
    ),
    "over-long action": (
        _doc(**{"steps.3.action": "a" * 201}),
        "Step 'staging': action: Ensure this value has at most 200 characters (it has 201).",
    ),
    "over-long checklist item": (
        _doc(**{"steps.0.checklist": ["c" * 301]}),
        "Step 'train': checklist: item 1 has 301 characters; keep each item to at most 300.",
    ),
    "a dict for a description": (_doc(description={"a": 1}), "'description' must be text."),
    "unknown document field": (_doc(owner="mallory"), "The file has unknown fields ['owner']"),
    "unknown step field": (
        _doc(**{"steps.0.shell": "rm -rf /"}),
        "Step 'train' has unknown fields ['shell']",
    ),
    "unknown route field": (
        _doc(**{"routes.0.when": "always"}),
        "Route #1 has unknown fields ['when']",
    ),
    "a number for a route's target": (
        _doc(**{"routes.0.to": 3}),
        "Route #1: 'from' and 'to' must be step keys",
    ),
    "a list for an outcome": (
        _doc(**{"routes.0.outcome": ["done"]}),
        "Route #1 from 'train' has outcome ['done']",
    ),
}


def _rows():
    return (
        list(WorkflowTemplate.objects.values_list("pk", "slug", "name", "version", "is_current")),
        Step.objects.count(),
        Route.objects.count(),
    )


@pytest.mark.parametrize("name", CORPUS)
def test_a_bad_document_is_refused_with_its_sentence_and_changes_nothing(name, ml_template, team):
    document, sentence = CORPUS[name]
    before = _rows()
    with pytest.raises(services.WorkflowError) as refused:
        exchange.import_template(document, team=team)
    assert any(sentence in problem for problem in refused.value.problems), refused.value.problems
    assert _rows() == before


def test_a_list_for_a_team_is_refused(ml_template):
    before = _rows()
    with pytest.raises(services.WorkflowError) as refused:
        exchange.import_template(_doc(team=["data-science"]))
    assert "Team ['data-science'] does not exist: set 'team' to a team slug." in (
        refused.value.problems
    )
    assert _rows() == before


def test_a_long_value_is_quoted_short_in_the_problem(ml_template, team):
    with pytest.raises(services.WorkflowError) as refused:
        exchange.import_template(_doc(**{"steps.0.key": "k" * 100_000}), team=team)
    assert max(len(problem) for problem in refused.value.problems) < 300


def test_the_import_command_prints_the_sentences_and_fails_without_a_traceback(
    ml_template, team, tmp_path
):
    path = tmp_path / "bad.json"
    path.write_text(_doc(**{"steps.0.name": "n" * 100_000, "steps.0.sla_hours": 10**30}))
    before = _rows()
    with pytest.raises(CommandError) as failed:
        call_command("import_workflow", str(path))
    message = str(failed.value)
    assert "Step 'train': name: Ensure this value has at most 120 characters" in message
    assert (
        "Step 'train': 'sla_hours' must be a whole number of hours from 0 to 2147483647, or null."
        in (message)
    )
    assert _rows() == before


def test_the_admin_import_refuses_an_oversized_file_before_reading_it(client, ml_template, team):
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    admin = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    client.force_login(admin)
    before = _rows()
    upload = SimpleUploadedFile("big.json", _doc(description="x" * 2_000_000).encode())
    response = client.post(reverse("admin:workflows_workflowtemplate_import"), {"file": upload})
    assert response.status_code in (200, 422)
    assert "The file is larger than 1 MB" in response.content.decode()
    assert _rows() == before


def test_a_step_name_with_line_breaks_is_imported_on_one_line(team, ml_template):
    template = exchange.import_template(
        _doc(slug="ml-2", **{"steps.0.name": "Train\r\nmodel"}), team=team
    )
    assert template.steps.get(key="train").name == "Train model"
