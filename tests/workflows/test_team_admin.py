"""The Workflow admin (/team-admin/): a lead edits the workflow templates of the teams they
lead, and another team's templates don't exist for them. Non-superuser staff get the same scope
in the global /admin/."""

import copy
import json

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.people.models import Role
from apps.workflows import definitions, exchange
from apps.workflows.models import Route, Step, WorkflowTemplate

from ..factories import MembershipFactory, TeamFactory, UserFactory


@pytest.fixture
def platform(db):
    return TeamFactory(name="Platform", slug="platform")


@pytest.fixture
def lead_a(team, platform):
    """Leads Data Science (team A) and reviews for Platform (team B), as the demo's ada does."""
    user = UserFactory(username="ada")
    MembershipFactory(team=team, user=user, role=Role.LEAD)
    MembershipFactory(team=platform, user=user, role=Role.REVIEWER)
    return user


@pytest.fixture
def template_b(platform, skills):
    document = copy.deepcopy(definitions.ML_DEPLOYMENT)
    document["name"] = "Platform pipeline"
    return exchange.import_template(document, team=platform)


@pytest.fixture
def staff_lead_a(lead_a):
    """Staff (not superuser) with every permission on workflow templates, steps and routes."""
    lead_a.is_staff = True
    lead_a.save(update_fields=["is_staff"])
    lead_a.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="workflows",
            content_type__model__in=["workflowtemplate", "step", "route"],
        )
    )
    return lead_a


def url(name, *args, site="team_admin"):
    return reverse(f"{site}:workflows_workflowtemplate_{name}", args=args)


def _management(prefix, total, initial):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def template_data(*, team, name, slug, steps=(), routes=(), template=None):
    """The change form as the browser posts it: steps and routes with their inline prefixes.

    A step or route dict with an "id" is an existing row."""
    data = {"team": team.pk, "name": name, "slug": slug, "description": "", "is_active": "on"}
    data.update(_management("steps", len(steps), sum("id" in s for s in steps)))
    for i, step in enumerate(steps):
        fields = {
            "kind": "manual",
            "manual_outcomes": "done",
            "min_level": "1",
            "assignment_policy": "auto",
            "max_iterations": "5",
            "position": str(i),
            **step,
        }
        if template is not None and "id" in step:
            fields["template"] = template.pk
        data.update({f"steps-{i}-{k}": v for k, v in fields.items()})
    data.update(_management("routes", len(routes), sum("id" in r for r in routes)))
    for i, route in enumerate(routes):
        data.update({f"routes-{i}-{k}": v for k, v in route.items()})
    return data


def _upload(document: dict) -> SimpleUploadedFile:
    return SimpleUploadedFile("wf.json", json.dumps(document).encode(), "application/json")


# --- who gets in -------------------------------------------------------------------------------


def test_a_member_who_leads_no_team_is_sent_to_the_sites_login(client_for, member, ml_template):
    client = client_for(member)
    for page in (reverse("team_admin:index"), url("changelist"), url("change", ml_template.pk)):
        response = client.get(page)
        assert response.status_code == 302
        assert response.url.startswith(reverse("team_admin:login"))
    html = client.get(response.url).content.decode()
    assert "not authorized to access this page" in html


def test_the_team_admin_holds_only_the_workflow_editor(client_for, lead_a):
    html = client_for(lead_a).get(reverse("team_admin:index")).content.decode()
    assert "Workflow admin" in html
    assert "Workflow templates of Data Science" in html
    assert "Platform" not in html  # ada only reviews there
    assert url("changelist") in html
    assert "/runs/" not in html and "/people/" not in html and "/tasks/" not in html


# --- another team's templates don't exist ------------------------------------------------------


def test_the_list_shows_my_teams_templates_and_no_other_teams(
    client_for, lead_a, ml_template, template_b
):
    html = client_for(lead_a).get(url("changelist")).content.decode()
    assert "ML model deployment" in html
    assert "Platform pipeline" not in html
    assert "Platform" not in html  # not even as a choice in the team filter


def test_another_teams_template_is_not_found_when_opened_changed_or_deleted(
    client_for, lead_a, template_b
):
    client = client_for(lead_a)
    assert client.get(url("change", template_b.pk)).status_code == 404
    assert client.get(url("history", template_b.pk)).status_code == 404
    assert client.get(url("delete", template_b.pk)).status_code == 404
    assert client.get(url("export", template_b.pk)).status_code == 404
    changed = template_data(team=template_b.team, name="Hijacked", slug=template_b.slug)
    assert client.post(url("change", template_b.pk), changed).status_code == 404
    assert client.post(url("delete", template_b.pk), {"post": "yes"}).status_code == 404
    assert client.post(url("make_draft", template_b.pk)).status_code == 404
    assert client.post(url("publish", template_b.pk)).status_code == 404
    assert client.post(url("discard", template_b.pk)).status_code == 404
    template_b.refresh_from_db()
    assert (template_b.name, template_b.version, template_b.is_current) == (
        "Platform pipeline",
        1,
        True,
    )
    assert template_b.steps.count() == 5
    assert WorkflowTemplate.objects.filter(team=template_b.team).count() == 1


def test_the_export_action_does_not_export_another_teams_template(client_for, lead_a, template_b):
    response = client_for(lead_a).post(
        url("changelist"), {"action": "export_json", "_selected_action": [template_b.pk]}
    )
    assert response.get("Content-Type") != "application/json"
    assert b"Platform pipeline" not in response.content


def test_a_new_template_cannot_be_added_to_another_team(client_for, lead_a, team, platform):
    client = client_for(lead_a)
    form = client.get(url("add")).content.decode()
    assert f'<option value="{team.pk}"' in form
    assert f'<option value="{platform.pk}"' not in form
    data = template_data(
        team=platform, name="Sneaky", slug="sneaky", steps=[{"key": "a", "name": "A"}]
    )
    response = client.post(url("add"), data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not WorkflowTemplate.objects.filter(slug="sneaky").exists()


def test_my_template_cannot_be_moved_to_another_team(client_for, lead_a, team, platform):
    client = client_for(lead_a)
    client.post(url("add"), template_data(team=team, name="Mine", slug="mine"))
    mine = WorkflowTemplate.objects.get(slug="mine")
    response = client.post(
        url("change", mine.pk), template_data(team=platform, name="Mine", slug="mine")
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    mine.refresh_from_db()
    assert mine.team == team


def test_a_route_cannot_point_at_a_step_of_another_teams_template(
    client_for, lead_a, team, template_b
):
    client = client_for(lead_a)
    client.post(
        url("add"),
        template_data(
            team=team, name="Mine", slug="mine", steps=[{"key": "a", "name": "A", "is_start": "on"}]
        ),
    )
    mine = WorkflowTemplate.objects.get(slug="mine")
    step = mine.steps.get()
    foreign = template_b.steps.get(key="train")
    data = template_data(
        team=team,
        name="Mine",
        slug="mine",
        template=mine,
        steps=[{"id": step.pk, "key": "a", "name": "A", "is_start": "on"}],
        routes=[{"from_step": step.pk, "outcome": "done", "to_step": foreign.pk}],
    )
    response = client.post(url("change", mine.pk), data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Route.objects.filter(to_step=foreign, template=mine).exists()
    assert not Route.objects.filter(from_step=foreign).exclude(template=template_b).exists()


def test_my_change_form_cannot_edit_another_teams_steps_checklists_or_routes(
    client_for, lead_a, team, template_b
):
    client = client_for(lead_a)
    client.post(
        url("add"),
        template_data(
            team=team, name="Mine", slug="mine", steps=[{"key": "a", "name": "A", "is_start": "on"}]
        ),
    )
    mine = WorkflowTemplate.objects.get(slug="mine")
    foreign_step = template_b.steps.get(key="train")
    foreign_route = template_b.routes.get(from_step=foreign_step)
    before = (foreign_step.name, foreign_step.checklist, foreign_route.to_step_id)
    data = template_data(
        team=team,
        name="Mine",
        slug="mine",
        template=mine,
        steps=[
            {"id": foreign_step.pk, "key": "train", "name": "Hijacked", "checklist": "Nothing"},
        ],
        routes=[
            {"id": foreign_route.pk, "from_step": foreign_step.pk, "outcome": "done", "to_step": ""}
        ],
    )
    response = client.post(url("change", mine.pk), data)
    assert response.status_code == 200
    assert "Please correct the error" in response.content.decode()
    foreign_step.refresh_from_db()
    foreign_route.refresh_from_db()
    assert (foreign_step.name, foreign_step.checklist, foreign_route.to_step_id) == before
    assert foreign_step.template == template_b


def test_nothing_can_be_imported_into_another_team(client_for, lead_a, team, platform, skills):
    client = client_for(lead_a)
    form = client.get(url("import")).content.decode()
    assert f'<option value="{platform.pk}"' not in form
    document = copy.deepcopy(definitions.ML_DEPLOYMENT)
    document["team"] = "platform"
    document["slug"] = "smuggled"
    response = client.post(url("import"), {"file": _upload(document), "team": platform.pk})
    assert "Select a valid choice" in response.content.decode()
    assert not WorkflowTemplate.objects.filter(slug="smuggled").exists()


def test_a_file_naming_another_team_is_imported_into_mine(client_for, lead_a, team, skills):
    document = copy.deepcopy(definitions.ML_DEPLOYMENT)
    document["team"] = "platform"
    document["slug"] = "from-a-file"
    client_for(lead_a).post(url("import"), {"file": _upload(document), "team": team.pk})
    assert WorkflowTemplate.objects.get(slug="from-a-file").team == team


# --- everything for my own team ----------------------------------------------------------------


def test_a_lead_builds_a_template_with_steps_routes_and_a_checklist(client_for, lead_a, team):
    client = client_for(lead_a)
    steps = [
        {
            "key": "draft",
            "name": "Draft",
            "is_start": "on",
            "checklist": "Spell-checked\nLinks work",
        },
        {"key": "publish", "name": "Publish"},
    ]
    response = client.post(
        url("add"), template_data(team=team, name="Blog", slug="blog", steps=steps), follow=True
    )
    blog = WorkflowTemplate.objects.get(slug="blog")
    assert blog.team == team
    # Saved before its routes exist: the page says runs can't start, and why.
    html = response.content.decode()
    assert "runs can&#x27;t start until these are fixed" in html
    assert "Step &#x27;draft&#x27; has no route for outcome &#x27;done&#x27;" in html
    draft, publish = blog.steps.order_by("position")
    data = template_data(
        team=team,
        name="Blog",
        slug="blog",
        template=blog,
        steps=[{**steps[0], "id": draft.pk}, {**steps[1], "id": publish.pk}],
        routes=[
            {"from_step": draft.pk, "outcome": "done", "to_step": publish.pk},
            {"from_step": publish.pk, "outcome": "done", "to_step": ""},
        ],
    )
    response = client.post(url("change", blog.pk), data)
    assert response.status_code == 302
    blog.refresh_from_db()
    assert blog.is_active
    assert draft.routes_out.get().to_step == publish
    assert Step.objects.get(pk=draft.pk).checklist_items == ["Spell-checked", "Links work"]
    html = client.get(url("change", blog.pk)).content.decode()
    assert "Valid: runs can start." in html
    assert 'data-step="publish"' in html  # the diagram


def test_a_lead_opens_their_template_with_its_diagram_and_export_link(
    client_for, lead_a, ml_template
):
    html = client_for(lead_a).get(url("change", ml_template.pk)).content.decode()
    assert '<svg class="wf"' in html
    assert "Valid: runs can start." in html
    assert url("export", ml_template.pk) in html
    assert url("make_draft", ml_template.pk) in html


def test_export_and_import_round_trip_in_the_team_admin(client_for, lead_a, team, ml_template):
    client = client_for(lead_a)
    exported = json.loads(client.get(url("export", ml_template.pk)).content)
    assert exported == exchange.export_template(ml_template)
    exported["slug"] = "ml-copy"
    response = client.post(url("import"), {"file": _upload(exported), "team": team.pk})
    copy_ = WorkflowTemplate.objects.get(slug="ml-copy")
    assert response.url == url("change", copy_.pk)
    assert {**exchange.export_template(copy_), "slug": "ml-deployment"} == (
        exchange.export_template(ml_template)
    )


def test_a_bad_import_in_the_team_admin_lists_problems_and_changes_nothing(
    client_for, lead_a, team, ml_template
):
    before = WorkflowTemplate.objects.count()
    upload = SimpleUploadedFile("bad.json", b'{"steps": "many"}', "application/json")
    response = client_for(lead_a).post(url("import"), {"file": upload, "team": team.pk})
    assert response.status_code == 422
    assert "&#x27;steps&#x27; must be a list of steps." in response.content.decode()
    assert WorkflowTemplate.objects.count() == before


def test_a_lead_copies_a_version_with_runs_to_a_draft(client_for, lead_a, ml_template):
    from apps.workflows import services

    services.start_run(template=ml_template, title="busy", owner=lead_a, by=lead_a)
    response = client_for(lead_a).post(url("make_draft", ml_template.pk))
    draft = WorkflowTemplate.objects.get(slug="ml-deployment", is_draft=True)
    assert draft.version == 2
    assert response.url == url("change", draft.pk)


def test_a_lead_deletes_their_own_template(client_for, lead_a, team):
    client = client_for(lead_a)
    client.post(url("add"), template_data(team=team, name="Scratch", slug="scratch"))
    scratch = WorkflowTemplate.objects.get(slug="scratch")
    client.post(url("delete", scratch.pk), {"post": "yes"})
    assert not WorkflowTemplate.objects.filter(pk=scratch.pk).exists()


# --- the same scope for staff in /admin/ -------------------------------------------------------


def test_staff_who_lead_one_team_see_only_its_templates_in_the_main_admin(
    client_for, staff_lead_a, ml_template, template_b
):
    client = client_for(staff_lead_a)
    html = client.get(url("changelist", site="admin")).content.decode()
    assert "ML model deployment" in html
    assert "Platform pipeline" not in html
    assert client.get(url("change", template_b.pk, site="admin")).status_code == 404
    assert (
        client.post(url("delete", template_b.pk, site="admin"), {"post": "yes"}).status_code == 404
    )
    assert WorkflowTemplate.objects.filter(pk=template_b.pk).exists()
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    html = client_for(root).get(url("changelist", site="admin")).content.decode()
    assert "ML model deployment" in html and "Platform pipeline" in html  # superusers: all


def test_staff_cannot_add_move_or_import_into_another_team_in_the_main_admin(
    client_for, staff_lead_a, team, platform, ml_template, skills
):
    client = client_for(staff_lead_a)
    add = template_data(team=platform, name="Sneaky", slug="sneaky")
    client.post(url("add", site="admin"), add)
    moved = template_data(team=platform, name=ml_template.name, slug=ml_template.slug)
    client.post(url("change", ml_template.pk, site="admin"), moved)
    document = copy.deepcopy(definitions.ML_DEPLOYMENT)
    document["team"] = "platform"
    document["slug"] = "smuggled"
    client.post(url("import", site="admin"), {"file": _upload(document), "team": platform.pk})
    assert not WorkflowTemplate.objects.filter(team=platform).exists()
    ml_template.refresh_from_db()
    assert ml_template.team == team


# --- the way in --------------------------------------------------------------------------------


def test_the_header_offers_the_workflow_admin_to_leads_only(client_for, lead_a, member):
    links = reverse("boards:work_links")
    assert reverse("team_admin:index") in client_for(lead_a).get(links).content.decode()
    assert reverse("team_admin:index") not in client_for(member).get(links).content.decode()


def test_the_demos_leads_use_the_workflow_admin_without_being_staff(
    client, db, django_capture_on_commit_callbacks
):
    from io import StringIO

    from django.core.management import call_command

    from apps.people.models import User

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    ada, linus = User.objects.get(username="ada"), User.objects.get(username="linus")
    assert not ada.is_staff and not linus.is_staff
    client.force_login(ada)
    html = client.get(url("changelist")).content.decode()
    assert "ML model deployment" in html and "CI/CD release" not in html
    client.force_login(linus)
    html = client.get(url("changelist")).content.decode()
    assert "CI/CD release" in html and "ML model deployment" not in html


def test_the_delete_action_removes_only_my_teams_selected_templates(
    client_for, lead_a, team, template_b
):
    client = client_for(lead_a)
    client.post(url("add"), template_data(team=team, name="Scratch", slug="scratch"))
    scratch = WorkflowTemplate.objects.get(slug="scratch")
    client.post(
        url("changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [scratch.pk, template_b.pk],
            "post": "yes",
        },
    )
    assert not WorkflowTemplate.objects.filter(pk=scratch.pk).exists()
    assert WorkflowTemplate.objects.filter(pk=template_b.pk).exists()


def test_the_template_list_query_count_does_not_grow_with_templates(
    client_for, lead_a, team, skills, django_assert_max_num_queries
):
    from apps.workflows import services

    for n in range(10):
        document = copy.deepcopy(definitions.ML_DEPLOYMENT)
        document["slug"] = f"ml-{n}"
        template = exchange.import_template(document, team=team)
        services.start_run(template=template, title=f"run {n}", owner=lead_a, by=lead_a)
    client = client_for(lead_a)
    client.get(url("changelist"))
    with django_assert_max_num_queries(7):
        html = client.get(url("changelist")).content.decode()
    assert html.count('<td class="field-run_count">1</td>') == 10


def test_the_change_page_reads_its_inlines_choices_once_not_per_row(
    client_for, lead_a, ml_template, django_assert_max_num_queries
):
    """Every route row offers the same steps and every step row the same skills: the page's
    queries don't grow with rows (it was 40 on the ML template, 63 with runs)."""
    client = client_for(lead_a)
    client.get(url("change", ml_template.pk))
    with django_assert_max_num_queries(16):
        html = client.get(url("change", ml_template.pk)).content.decode()
    # Each row still shows its own route, chosen among the template's steps.
    for route in ml_template.routes.all():
        assert f'<option value="{route.from_step_id}" selected>' in html


def test_a_version_with_runs_shows_its_routes_read_only_in_few_queries(
    client_for, lead_a, ml_template, django_assert_max_num_queries
):
    from apps.workflows import services

    services.start_run(template=ml_template, title="busy", owner=lead_a, by=lead_a)
    client = client_for(lead_a)
    client.get(url("change", ml_template.pk))
    with django_assert_max_num_queries(16):
        html = client.get(url("change", ml_template.pk)).content.decode()
    assert 'name="routes-0-from_step"' not in html  # read only
    first = ml_template.routes.select_related("from_step").first()
    assert first.from_step.name in html
