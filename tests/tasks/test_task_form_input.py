"""What a person types into the new-task form is kept as a title can be shown and sent."""

import pytest
from django.urls import reverse

from apps.tasks.models import Task


def test_a_title_typed_with_line_breaks_is_saved_on_one_line(client_for, lead, team):
    response = client_for(lead).post(
        reverse("tasks:task_create", args=[team.slug]),
        {"title": "Train\r\n  churn\rmodel", "priority": 2, "min_level": 1},
    )
    assert response.status_code == 302
    assert Task.objects.get().title == "Train churn model"


@pytest.mark.postgres
def test_a_search_with_a_nul_byte_shows_the_list_unfiltered(client_for, member, team, make_task):
    make_task(title="Train churn model")
    response = client_for(member).get(reverse("boards:task_list", args=[team.slug]), {"q": "a\x00"})
    # Refused like any bad parameter of the list (a 400 naming it), the list shown without it.
    assert response.status_code == 400
    assert "Train churn model" in response.content.decode()
