import re
from datetime import timedelta

import pytest
from django.forms import MultiWidget
from django.urls import reverse
from django.utils import timezone
from django_fsm_log.models import StateLog

from apps.people.models import Role
from apps.tasks import services
from apps.tasks.models import State

from ..factories import PersonSkillFactory, SkillFactory, TimeOffFactory
from ..html import text_of, texts_of


def change_url(task):
    return reverse("admin:tasks_task_change", args=[task.pk])


def press(client, task, transition):
    """Press a transition button on the task's admin page, as FSMAdminMixin's form posts it:
    the whole change form (saved first), plus `_fsm_transition_to`; then follow the redirect
    back to the page and return it."""
    page = client.get(change_url(task))
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field.widget, MultiWidget):  # the admin's split date and time
            parts = field.widget.decompress(value)
            data |= {f"{name}_{i}": "" if p is None else p for i, p in enumerate(parts)}
        elif value is True:
            data[name] = "on"
        elif value is not None and value is not False:  # an unticked box is not posted
            data[name] = value
    for inline in page.context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        data |= {f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0}
    data["_fsm_transition_to"] = transition
    return client.post(change_url(task), data, follow=True)


def messages_on(page, level):
    return [m for m in texts_of(page, class_=level) if m]


@pytest.fixture
def staff(make_member):
    def make(role):
        return make_member(role, is_staff=True, is_superuser=True)

    return make


def test_admin_shows_history_and_only_allowed_transitions(client_for, task, staff, member):
    staff_lead = staff(Role.LEAD)
    services.assign_to(task=task, assignee=member, by=staff_lead, note="over to you")
    page = client_for(staff_lead).get(change_url(task))
    body = page.content.decode()
    assert "over to you" in body  # the transition history inline
    offered = set(re.findall(r'name="_fsm_transition_to"\s+value="(\w+)"', body))
    assert offered == {"start", "unassign", "hold", "cancel"}


def test_admin_refuses_a_start_by_staff_who_are_neither_assignee_nor_lead(
    client_for, task, staff, member, lead
):
    """Being staff (even superuser) is not a role in the team: the service's rule decides."""
    services.assign_to(task=task, assignee=member, by=lead)
    outsider_staff = staff(Role.MEMBER)
    page = press(client_for(outsider_staff), task, "start")
    assert messages_on(page, "error") == ["Only the assignee or a lead can start this task."]
    task.refresh_from_db()
    assert task.state == State.ASSIGNED
    assert list(StateLog.objects.for_(task).values_list("transition", flat=True)) == ["assign"]


def test_admin_refuses_the_author_approving_their_own_work(client_for, make_task, staff, lead):
    author = staff(Role.REVIEWER)
    task = make_task(requires_review=True)
    services.assign_to(task=task, assignee=author, by=lead)
    services.start(task=task, by=author)
    services.submit(task=task, by=author)
    page = press(client_for(author), task, "approve")
    assert messages_on(page, "error") == ["Only a reviewer other than the assignee can approve."]
    task.refresh_from_db()
    assert (task.state, task.outcome) == (State.IN_REVIEW, "")
    assert StateLog.objects.for_(task).filter(transition="approve").count() == 0


def test_admin_hold_frees_the_assignees_slot_and_logs_the_admin_user(
    client_for, task, staff, member
):
    staff_lead = staff(Role.LEAD)
    services.assign_to(task=task, assignee=member, by=staff_lead)
    page = press(client_for(staff_lead), task, "hold")
    assert messages_on(page, "error") == []
    task.refresh_from_db()
    member.refresh_from_db()
    assert task.state == State.ON_HOLD
    assert member.active_count == 0  # held work does not count against capacity
    log = StateLog.objects.for_(task).latest("id")
    assert (log.transition, log.by, log.source_state) == ("hold", staff_lead, "assigned")


def test_admin_resume_is_refused_when_the_assignee_has_no_free_slot(
    client_for, make_task, staff, make_member
):
    """The admin offers Resume (the permission holds), but the capacity rule is the service's."""
    staff_lead = staff(Role.LEAD)
    person = make_member(capacity=1)
    held = services.hold(
        task=services.assign_to(task=make_task(), assignee=person, by=staff_lead), by=staff_lead
    )
    services.assign_to(task=make_task(), assignee=person, by=staff_lead)
    page = press(client_for(staff_lead), held, "resume")
    [error] = messages_on(page, "error")
    assert error.endswith("can't take this task: at capacity 1/1.")
    held.refresh_from_db()
    person.refresh_from_db()
    assert held.state == State.ON_HOLD
    assert person.active_count == 1


def test_people_admin_lists_skills_and_time_off(client_for, make_member):
    admin_user = make_member(is_staff=True, is_superuser=True)
    skill = PersonSkillFactory(user=admin_user, skill=SkillFactory(name="Forecasting"), level=4)
    leave = TimeOffFactory(
        user=admin_user, starts=timezone.now(), ends=timezone.now() + timedelta(days=2)
    )
    page = client_for(admin_user).get(reverse("admin:people_user_change", args=[admin_user.pk]))
    assert str(skill) in text_of(page, id="skills-group")  # "…: Forecasting 4/5"
    assert str(leave) in text_of(page, id="time_off-group")
