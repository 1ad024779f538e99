"""The assignment panel and the Workload page, as the people using them see them."""

import pytest
from django.urls import reverse
from django_fsm_log.models import StateLog

from apps.assignment.models import AssignmentDecision
from apps.assignment.services.single import assign
from apps.people.models import Membership, PersonSkill, User
from apps.tasks.models import State

from ..html import text_of, texts_of

HTMX = {"HTTP_HX_REQUEST": "true"}


def panel_url(task):
    return reverse("assignment:panel", args=[task.pk])


def assign_url(task):
    return reverse("assignment:assign", args=[task.pk])


def test_task_page_lazy_loads_the_panel(client_for, lead, ml_task):
    task = ml_task()
    page = client_for(lead).get(task.get_absolute_url()).content.decode()
    assert f'hx-get="{panel_url(task)}?page=task"' in page


def test_panel_of_another_teams_task_is_404(client_for, outsider, ml_task):
    assert client_for(outsider).get(panel_url(ml_task())).status_code == 404


def test_suggest_lists_ranked_candidates_with_reasons(client_for, lead, make_person, ml_task):
    able = make_person("able")
    low = make_person("low", level=1)
    body = client_for(lead).get(panel_url(ml_task()) + "?suggest=1").content.decode()
    heads = texts_of(body, class_="cand-head")
    assert heads[0] == f"#1 {able.initials} {able.display_name} score 100"
    assert heads[1] == f"\N{EN DASH} {low.initials} {low.display_name}"  # ineligible: no rank
    assert texts_of(body, class_="why-not")[0] == "has ML at level 1 < 3 required"


def test_lead_picker_greys_out_the_ineligible_with_the_reason(
    client_for, lead, make_person, ml_task
):
    low = make_person("low", level=1)
    body = client_for(lead).get(panel_url(ml_task())).content.decode()
    option = next(line for line in body.splitlines() if f'value="{low.pk}"' in line)
    assert "disabled" in option and "level 1 &lt; 3 required" in option


def test_eligible_member_assigns_to_themselves(client_for, make_person, ml_task):
    bob = make_person("bob")
    task = ml_task()
    response = client_for(bob).post(assign_url(task), {"person": bob.pk}, **HTMX)
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.assignee == bob and task.state == State.ASSIGNED


def test_ineligible_member_is_told_why_not(client_for, make_person, ml_task):
    bob = make_person("bob", level=1)
    body = client_for(bob).get(panel_url(ml_task())).content.decode()
    assert "You can't take it: has ML at level 1 &lt; 3 required" in body
    assert "Assign to me" not in body


def test_refused_assignment_answers_409_with_reasons_and_changes_nothing(
    client_for, lead, make_person, ml_task
):
    low = make_person("low", level=1)
    task = ml_task()
    response = client_for(lead).post(assign_url(task), {"person": low.pk}, **HTMX)
    assert response.status_code == 409
    assert "level 1 &lt; 3 required" in response.content.decode()
    task.refresh_from_db()
    assert task.state == State.TODO


def test_lead_override_of_time_away_is_recorded_and_shown(client_for, lead, make_person, ml_task):
    away = make_person("away", is_away=True)
    task = ml_task()
    response = client_for(lead).post(
        assign_url(task), {"person": away.pk, "override": "1", "note": "urgent"}, **HTMX
    )
    assert response.status_code == 200
    assert "Lead override of availability: away" in response.content.decode()
    assert AssignmentDecision.objects.get(task=task).overrode == ["away"]


def test_auto_assign_from_the_task_page_reloads_it(client_for, lead, make_person, ml_task):
    bob = make_person("bob")
    task = ml_task()
    response = client_for(lead).post(assign_url(task), {"page": "task"}, **HTMX)
    assert response.status_code == 200 and response["HX-Refresh"] == "true"
    assert text_of(response, role="status") == f"Assigned to {bob.display_name}."
    task.refresh_from_db()
    assert (task.state, task.assignee) == (State.ASSIGNED, bob)


def test_stale_tab_is_refused(client_for, lead, make_person, ml_task):
    bob = make_person("bob")
    task = ml_task()
    client_for(lead).post(assign_url(task), {"person": bob.pk})
    response = client_for(lead).post(
        assign_url(task), {"person": bob.pk, "expected_state": "todo"}, **HTMX
    )
    assert response.status_code == 409
    assert text_of(response, role="alert") == (
        "Someone else changed this task first: it is now Assigned. Nothing was changed; "
        "reload to see the latest."
    )
    task.refresh_from_db()
    assert (task.state, task.assignee) == (State.ASSIGNED, bob)
    assert StateLog.objects.for_(task).count() == 1


def test_picking_a_non_member_is_refused(client_for, lead, outsider, ml_task):
    response = client_for(lead).post(assign_url(ml_task()), {"person": outsider.pk}, **HTMX)
    assert response.status_code == 409
    assert "Choose a member of this team" in response.content.decode()


def test_decision_is_shown_with_the_ranking(client_for, lead, make_person, ml_task):
    bob = make_person("bob")
    task = ml_task()
    client_for(lead).post(assign_url(task), {})
    decision = text_of(client_for(lead).get(panel_url(task)), testid="decision")
    assert decision.startswith(f"{bob.initials} {bob.display_name} Automatic score 100")
    assert f"by {lead.display_name}," in decision  # the lead pressed the button, not Relay


# --- workload ---------------------------------------------------------------------------------


def test_workload_shows_load_against_capacity(client_for, lead, make_person, team):
    bob = make_person("bob", capacity=4)
    User.objects.filter(pk=bob.pk).update(active_count=3)
    body = client_for(lead).get(reverse("assignment:workload", args=[team.slug])).content.decode()
    assert "3/4" in body and '<rect width="75" height="1"/>' in body and "ML <b>3</b>" in body


def test_workload_of_another_team_is_404(client_for, outsider, team):
    response = client_for(outsider).get(reverse("assignment:workload", args=[team.slug]))
    assert response.status_code == 404


@pytest.mark.parametrize("size", [3, 40])
def test_workload_query_count_does_not_grow_with_team(
    size, client_for, lead, team, skill, django_assert_max_num_queries
):
    for i in range(size):
        user = User.objects.create(username=f"w{i}")
        Membership.objects.create(team=team, user=user)
        PersonSkill.objects.create(user=user, skill=skill, level=2)
    client = client_for(lead)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("assignment:workload", args=[team.slug]))
    rows = text_of(response, testid="workload").count("0/3")  # everyone idle, capacity 3
    assert rows == size + 1  # the lead too


@pytest.mark.parametrize("size", [3, 40])
def test_panel_query_count_does_not_grow_with_team(
    size, client_for, lead, team, skill, ml_task, django_assert_max_num_queries
):
    for i in range(size):
        user = User.objects.create(username=f"w{i}")
        Membership.objects.create(team=team, user=user)
        PersonSkill.objects.create(user=user, skill=skill, level=3)
    task = ml_task()
    client = client_for(lead)
    with django_assert_max_num_queries(10):
        response = client.get(panel_url(task) + "?suggest=1")
    ranked = texts_of(response, class_="cand-head")
    assert len(ranked) == size + 1
    assert [head.split()[0] for head in ranked[:size]] == [f"#{n}" for n in range(1, size + 1)]


def test_only_a_lead_may_auto_assign_pending(client_for, member, make_person, ml_task, team):
    make_person("bob")
    task = ml_task()
    url = reverse("assignment:auto_assign_pending", args=[team.slug])
    response = client_for(member).post(url)
    assert response.status_code == 403
    assert "Only a lead can auto-assign the team&#x27;s pending tasks." in response.content.decode()
    task.refresh_from_db()
    assert task.state == State.TODO


def test_the_workload_page_offers_auto_assign_to_leads_only(client_for, lead, member, team):
    url = reverse("assignment:workload", args=[team.slug])
    assert 'data-testid="auto-assign-pending"' in client_for(lead).get(url).content.decode()
    assert 'data-testid="auto-assign-pending"' not in client_for(member).get(url).content.decode()


def test_lead_auto_assigns_pending_from_the_workload_page(
    client_for, lead, make_person, ml_task, team
):
    make_person("bob")
    task = ml_task()
    url = reverse("assignment:auto_assign_pending", args=[team.slug])
    response = client_for(lead).post(url, follow=True)
    assert "1 assigned, 0 waiting" in response.content.decode()
    task.refresh_from_db()
    assert task.state == State.ASSIGNED


@pytest.mark.parametrize(
    ("model", "listed"), [("assignmentdecision", "Given to bob"), ("waitingtask", "Nobody fits")]
)
def test_admin_lists_decisions_and_waiting_tasks(admin_client, model, listed, make_person, ml_task):
    make_person("bob")
    assign(task=ml_task(title="Given to bob"))
    assign(task=ml_task(title="Nobody fits", min_level=5))
    response = admin_client.get(reverse(f"admin:assignment_{model}_changelist"))
    [table] = texts_of(response, id="result_list")
    other = ({"Given to bob", "Nobody fits"} - {listed}).pop()
    assert listed in table and other not in table
