import re

from django.urls import reverse

from apps.people.models import Role
from apps.tasks import services
from apps.tasks.models import State


def test_admin_shows_history_and_only_allowed_transitions(client_for, task, make_member, member):
    staff_lead = make_member(Role.LEAD, is_staff=True, is_superuser=True)
    services.assign_to(task=task, assignee=member, by=staff_lead, note="over to you")
    page = client_for(staff_lead).get(reverse("admin:tasks_task_change", args=[task.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "over to you" in body  # the transition history inline
    offered = set(re.findall(r'name="_fsm_transition_to"\s+value="(\w+)"', body))
    assert offered == {"start", "unassign", "hold", "cancel"}


def test_admin_transition_goes_through_the_rules(client_for, task, make_member, member):
    staff_lead = make_member(Role.LEAD, is_staff=True, is_superuser=True)
    services.assign_to(task=task, assignee=member, by=staff_lead)
    url = reverse("admin:tasks_task_change", args=[task.pk])
    client = client_for(staff_lead)
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data.update(
        {
            "_fsm_transition_to": "start",
            "team": task.team_id,
            "priority": 2,
            "min_level": 1,
            "position": 0,
            "iteration": 1,
            "created_at_0": "2026-01-01",
            "created_at_1": "10:00:00",
        }
    )
    for prefix in ("checklist", "comments", "django_fsm_log-statelog-content_type-object_id"):
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    client.post(url, data)
    task.refresh_from_db()
    assert task.state == State.IN_PROGRESS


def test_people_admin_lists_skills_and_time_off(client_for, make_member):
    admin_user = make_member(is_staff=True, is_superuser=True)
    body = (
        client_for(admin_user)
        .get(reverse("admin:people_user_change", args=[admin_user.pk]))
        .content.decode()
    )
    assert "Person skills" in body or "person skill" in body.lower()
    assert "time off" in body.lower()
