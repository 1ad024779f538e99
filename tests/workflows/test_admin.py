"""The admin editor: validation on save, frozen versions, import and export."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.workflows import exchange, services
from apps.workflows.models import Step, WorkflowTemplate

from ..factories import UserFactory


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def _change_url(template):
    return reverse("admin:workflows_workflowtemplate_change", args=[template.pk])


def _management(prefix, total, initial):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_the_template_page_shows_the_diagram_and_that_it_is_valid(admin_client, ml_template):
    html = admin_client.get(_change_url(ml_template)).content.decode()
    assert '<svg class="wf"' in html
    assert 'data-step="review"' in html
    assert "Valid: runs can start." in html


def test_the_template_page_shows_the_external_step_and_its_system(admin_client, ml_template):
    html = admin_client.get(_change_url(ml_template)).content.decode()
    assert "waits for CI" in html  # the diagram's node
    assert 'name="steps-3-system" value="CI"' in html  # the step's form, editable
    assert '<option value="external" selected>' in html


def test_saving_an_invalid_template_lists_the_problem_and_no_run_can_start(
    admin_client, team, lead
):
    data = {
        "team": team.pk,
        "name": "Tiny",
        "slug": "tiny",
        "description": "",
        "is_active": "on",
        **_management("steps", 1, 0),
        "steps-0-key": "only",
        "steps-0-name": "Only step",
        "steps-0-kind": "manual",
        "steps-0-manual_outcomes": "done",
        "steps-0-is_start": "on",
        "steps-0-min_level": "1",
        "steps-0-assignment_policy": "auto",
        "steps-0-max_iterations": "5",
        "steps-0-position": "0",
        **_management("routes", 0, 0),
    }
    response = admin_client.post(reverse("admin:workflows_workflowtemplate_add"), data, follow=True)
    template = WorkflowTemplate.objects.get(slug="tiny")
    html = response.content.decode()
    assert "Saved; runs can&#x27;t start until these are fixed" in html
    assert "Step &#x27;only&#x27; has no route for outcome &#x27;done&#x27;" in html
    page = admin_client.get(_change_url(template)).content.decode()
    assert "Version 1 — 2 problems: runs can&#x27;t start until they&#x27;re fixed." in page
    with pytest.raises(services.WorkflowError, match="has no route for outcome"):
        services.start_run(template=template, title="x", owner=lead, by=None)


def test_a_version_with_runs_is_read_only(admin_client, ml_template, lead):
    services.start_run(template=ml_template, title="busy", owner=lead, by=lead)
    response = admin_client.post(_change_url(ml_template), {"name": "Renamed"})
    assert response.status_code == 403
    ml_template.refresh_from_db()
    assert ml_template.name == "ML model deployment"


def test_edit_as_draft_copies_steps_and_routes_and_leaves_the_current_version(
    admin_client, ml_template, lead
):
    services.start_run(template=ml_template, title="busy", owner=lead, by=lead)
    url = reverse("admin:workflows_workflowtemplate_make_draft", args=[ml_template.pk])
    response = admin_client.post(url)
    draft = WorkflowTemplate.objects.get(slug="ml-deployment", is_draft=True)
    assert response.url == _change_url(draft)
    assert (draft.version, draft.is_current) == (2, False)
    assert WorkflowTemplate.objects.get(slug="ml-deployment", is_current=True) == ml_template
    assert exchange.export_template(draft) == exchange.export_template(ml_template)


def test_importing_a_malformed_file_in_the_admin_lists_problems_and_changes_nothing(
    admin_client, ml_template
):
    before = WorkflowTemplate.objects.count()
    upload = SimpleUploadedFile("bad.json", b'{"steps": "many"}', "application/json")
    response = admin_client.post(
        reverse("admin:workflows_workflowtemplate_import"),
        {"file": upload, "team": ml_template.team_id},
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "&#x27;slug&#x27; is missing" in html
    assert "&#x27;steps&#x27; must be a list of steps." in html
    assert WorkflowTemplate.objects.count() == before


def test_importing_a_good_file_in_the_admin_creates_the_template(admin_client, ml_template):
    document = exchange.export_template(ml_template)
    document["slug"] = "ml-copy"
    upload = SimpleUploadedFile("ml.json", json.dumps(document).encode(), "application/json")
    admin_client.post(
        reverse("admin:workflows_workflowtemplate_import"),
        {"file": upload, "team": ml_template.team_id},
    )
    assert Step.objects.filter(template__slug="ml-copy").count() == 5


def test_the_export_action_downloads_the_template_as_json(admin_client, ml_template):
    response = admin_client.post(
        reverse("admin:workflows_workflowtemplate_changelist"),
        {"action": "export_json", "_selected_action": [ml_template.pk]},
    )
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == exchange.export_template(ml_template)
