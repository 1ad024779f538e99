"""Drafts: editing a version that runs hold makes a draft; the current version keeps serving new
runs until a lead publishes a valid draft."""

import pytest
from django.urls import reverse

from apps.workflows import services
from apps.workflows.models import Step, WorkflowTemplate

from .editor_forms import change_form_data


@pytest.fixture
def busy(ml_template, lead):
    """The ML template with a run on it: frozen, so editing it means a draft."""
    services.start_run(template=ml_template, title="busy", owner=lead, by=lead)
    return ml_template


@pytest.fixture
def draft(busy, lead):
    return services.make_draft(template=busy, by=lead)


def url(name, *args):
    return reverse(f"team_admin:workflows_workflowtemplate_{name}", args=args)


def test_editing_a_version_with_runs_makes_a_draft_that_serves_no_runs(busy, draft, lead):
    assert (draft.version, draft.is_draft, draft.is_current) == (2, True, False)
    busy.refresh_from_db()
    assert (busy.is_current, busy.is_active) == (True, True)
    with pytest.raises(services.WorkflowError, match="replaced by a newer one"):
        services.start_run(template=draft, title="on the draft", owner=lead, by=lead)


def test_the_current_version_keeps_starting_runs_while_a_draft_exists(
    client_for, busy, draft, lead
):
    run = services.start_run(template=busy, title="second", owner=lead, by=lead)
    assert run.template == busy
    html = client_for(lead).get(reverse("workflows:run_start", args=[busy.team.slug]))
    assert "ML model deployment" in html.content.decode()
    assert f'value="{busy.pk}"' in html.content.decode()
    assert f'value="{draft.pk}"' not in html.content.decode()


def test_only_one_draft_at_a_time(busy, draft, lead):
    with pytest.raises(services.WorkflowError, match=r"Draft v2 .* is already being edited") as no:
        services.make_draft(template=busy, by=lead)
    assert no.value.status == 409
    assert WorkflowTemplate.objects.filter(slug=busy.slug).count() == 2


def test_an_invalid_draft_cannot_be_published_and_nothing_changes(busy, draft, lead):
    Step.objects.filter(template=draft, key="train").update(is_start=False)
    with pytest.raises(services.WorkflowError) as refused:
        services.publish_draft(draft=draft, by=lead)
    assert refused.value.status == 422
    assert refused.value.problems[0] == "Draft v2 can't be published until these are fixed:"
    assert "No start step: tick 'is start' on the step where runs begin." in refused.value.problems
    draft.refresh_from_db()
    busy.refresh_from_db()
    assert (draft.is_draft, busy.is_current) == (True, True)


def test_publishing_makes_the_draft_current_and_the_old_runs_keep_their_version(busy, draft, lead):
    old_run = busy.runs.get()
    published = services.publish_draft(draft=draft, by=lead)
    busy.refresh_from_db()
    assert (published.is_current, published.is_draft, busy.is_current) == (True, False, False)
    assert published.published_at is not None
    assert services.start_run(template=published, title="new", owner=lead, by=lead).template == (
        published
    )
    old_run.refresh_from_db()
    assert old_run.template == busy


def test_discarding_a_draft_removes_it_and_leaves_the_current_version(busy, draft, lead):
    services.discard_draft(draft=draft, by=lead)
    assert not WorkflowTemplate.objects.filter(pk=draft.pk).exists()
    busy.refresh_from_db()
    assert busy.is_current and busy.is_active


@pytest.mark.parametrize("verb", ["make", "publish", "discard"])
def test_a_member_who_is_not_a_lead_is_refused_with_403(busy, draft, member, verb):
    call = {
        "make": lambda: services.make_draft(template=busy, by=member),
        "publish": lambda: services.publish_draft(draft=draft, by=member),
        "discard": lambda: services.discard_draft(draft=draft, by=member),
    }[verb]
    with pytest.raises(services.WorkflowError, match="Only a lead of the team") as refused:
        call()
    assert refused.value.status == 403
    draft.refresh_from_db()
    assert draft.is_draft
    assert WorkflowTemplate.objects.filter(slug=busy.slug).count() == 2


def test_a_bad_save_of_the_draft_says_so_and_never_touches_the_current_version(
    client_for, busy, draft, lead
):
    client = client_for(lead)
    data = change_form_data(client.get(url("change", draft.pk)))
    data.pop("steps-0-is_start")
    response = client.post(url("change", draft.pk), data, follow=True)
    html = response.content.decode()
    assert "Draft v2 saved; it can&#x27;t be published until these are fixed" in html
    html = client.get(url("change", draft.pk)).content.decode()
    assert "Draft v2 — 1 problem: fix them, then publish." in html
    assert "Valid: runs can start." not in html
    busy.refresh_from_db()
    assert (busy.is_current, busy.is_active) == (True, True)
    response = client.post(url("publish", draft.pk), follow=True)
    assert "Draft v2 can&#x27;t be published until these are fixed" in response.content.decode()
    draft.refresh_from_db()
    assert draft.is_draft


def test_a_lead_publishes_a_draft_from_its_page(client_for, busy, draft, lead):
    client = client_for(lead)
    page = client.get(url("change", busy.pk)).content.decode()
    assert "Open draft v2" in page  # the current version's page leads to its draft
    page = client.get(url("change", draft.pk)).content.decode()
    assert "Draft v2 — valid: publish it to serve new runs." in page
    assert "Version 1 stays current and keeps serving new runs" in page
    response = client.post(url("publish", draft.pk))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.is_current
    page = client.get(url("change", draft.pk)).content.decode()
    assert "Version 2 published" in page
