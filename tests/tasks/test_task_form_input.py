"""What a person types into the new-task form is kept as a title can be shown and sent."""

from django.urls import reverse

from apps.tasks.models import Task


def test_a_title_typed_with_line_breaks_is_saved_on_one_line(client_for, lead, team):
    response = client_for(lead).post(
        reverse("tasks:task_create", args=[team.slug]),
        {"title": "Train\r\n  churn\rmodel", "priority": 2, "min_level": 1},
    )
    assert response.status_code == 302
    assert Task.objects.get().title == "Train churn model"
