"""Task pages: what people see, and what a refused action answers."""

from django.urls import reverse
from django_fsm_log.models import StateLog

from apps.tasks import services
from apps.tasks.models import State

from ..html import text_of, values_of


def transition_url(task, action):
    return reverse("tasks:task_transition", args=[task.pk, action])


def test_login_required(client, task):
    response = client.get(task.get_absolute_url())
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_login_page_logs_in(client, member):
    from ..factories import PASSWORD

    response = client.post(reverse("login"), {"username": member.username, "password": PASSWORD})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == member.pk
    client.logout()
    response = client.post(reverse("login"), {"username": member.username, "password": "nope"})
    assert "Please enter a correct username and password" in response.content.decode()


def test_task_page_shows_details_and_only_my_actions(client_for, task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    page = client_for(member).get(task.get_absolute_url())
    assert text_of(page, testid="task-state") == "Assigned"
    assert member.display_name in text_of(page, class_="facts")  # the assignee
    assert values_of(page, "value", name="action") == ["unassign", "start", "hold"]
    assert f"{lead.display_name} assign: To do → Assigned" in text_of(page, testid="history")


def test_start_over_htmx_returns_the_partial(client_for, task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    response = client_for(member).post(
        transition_url(task, "start"),
        {"expected_state": "assigned", "note": "on it"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert 'id="task-main"' in body
    assert text_of(body, testid="task-state") == "In progress"
    history = text_of(body, testid="history")
    assert history.endswith(f"{member.display_name} start: Assigned → In progress on it")


def test_author_cannot_approve_own_work(client_for, task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    services.start(task=task, by=member)
    services.submit(task=task, by=member)
    response = client_for(member).post(
        transition_url(task, "approve"), headers={"HX-Request": "true"}
    )
    assert response.status_code == 403
    assert "other than the assignee" in response.content.decode()
    task.refresh_from_db()
    assert task.state == State.IN_REVIEW


def test_stale_tab_gets_409_and_changes_nothing(client_for, task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    services.start(task=task, by=member)
    logs = StateLog.objects.for_(task).count()
    response = client_for(member).post(transition_url(task, "hold"), {"expected_state": "assigned"})
    assert response.status_code == 409
    assert "Someone else changed this task first" in response.content.decode()
    task.refresh_from_db()
    assert task.state == State.IN_PROGRESS
    assert StateLog.objects.for_(task).count() == logs


def test_transition_refuses_get(client_for, task, lead):
    assert client_for(lead).get(transition_url(task, "cancel")).status_code == 405


def test_transition_requires_csrf(task, lead):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    assert client.post(transition_url(task, "cancel")).status_code == 403
    task.refresh_from_db()
    assert task.state == State.TODO


def test_unknown_action_is_404(client_for, task, lead):
    assert client_for(lead).post(transition_url(task, "explode")).status_code == 404


def test_other_teams_task_is_404(client_for, task, outsider):
    client = client_for(outsider)
    assert client.get(task.get_absolute_url()).status_code == 404
    assert client.post(transition_url(task, "cancel")).status_code == 404
    task.refresh_from_db()
    assert task.state == State.TODO


def test_unknown_task_is_404(client_for, lead):
    assert client_for(lead).get(reverse("tasks:task_detail", args=[999999])).status_code == 404


def test_other_teams_list_is_404(client_for, team, outsider):
    response = client_for(outsider).get(reverse("boards:task_list", args=[team.slug]))
    assert response.status_code == 404


def test_staff_see_every_team(client_for, task, db):
    from ..factories import UserFactory

    staff = UserFactory(is_staff=True)
    page = client_for(staff).get(task.get_absolute_url())
    assert text_of(page, testid="task-state") == "To do"
    # Seeing is not acting: staff who are not in the team get no buttons.
    assert values_of(page, "value", name="action") == []
    assert "No actions for you on this task right now." in text_of(page, id="task-main")


def test_comment_is_added_over_htmx(client_for, task, member):
    response = client_for(member).post(
        reverse("tasks:task_comment", args=[task.pk]),
        {"body": "Baseline is at 0.71"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    comments = text_of(response, testid="comments")
    assert member.display_name in comments and comments.endswith("Baseline is at 0.71")
    assert text_of(response, name="body") == ""  # the box is empty for the next one
    assert task.comments.get().author == member


def test_empty_comment_shows_error_next_to_the_field(client_for, task, member):
    response = client_for(member).post(
        reverse("tasks:task_comment", args=[task.pk]),
        {"body": ""},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert text_of(response, class_="field-error") == "This field is required."
    assert task.comments.count() == 0


def test_new_task_form_validates(client_for, team, member):
    url = reverse("tasks:task_create", args=[team.slug])
    response = client_for(member).post(url, {"title": "", "priority": 2, "min_level": 9})
    body = response.content.decode()
    assert response.status_code == 200
    assert "This field is required." in body
    assert team.tasks.count() == 0
    response = client_for(member).post(
        url, {"title": "Write release notes", "priority": 2, "min_level": 1}
    )
    assert response.status_code == 302
    assert team.tasks.get().title == "Write release notes"


def test_outcome_choices_read_as_words(client_for, task, member, lead):
    from apps.tasks.templatetags.relay_tasks import outcome_label

    services.assign_to(task=task, assignee=member, by=lead)
    services.start(task=task, by=member)
    body = client_for(member).get(task.get_absolute_url()).content.decode()
    assert '<option value="passed">Passed</option>' in body
    assert outcome_label("changes_requested") == "Changes requested"


def test_task_page_leaves_assigning_to_the_assignment_panel(client_for, task, member):
    body = client_for(member).get(task.get_absolute_url()).content.decode()
    assert "/assign/" not in body.split('id="task-main"')[1].split("</form>")[0]
    assert reverse("assignment:panel", args=[task.pk]) in body
