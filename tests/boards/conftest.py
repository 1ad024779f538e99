import pytest
from django.urls import reverse

from apps.tasks import services


@pytest.fixture
def board_url(team):
    return reverse("boards:board", args=[team.slug])


def move_url(task):
    return reverse("boards:move", args=[task.pk])


@pytest.fixture
def in_review(make_task, member, lead):
    """Work `member` did and submitted for review."""
    task = make_task(title="Evaluate churn model", requires_review=True)
    services.assign_to(task=task, assignee=member, by=lead)
    services.start(task=task, by=member)
    services.submit(task=task, by=member)
    return task


def htmx(client, method, url, data=None, current_url="", **extra):
    headers = {"HX-Request": "true", **({"HX-Current-URL": current_url} if current_url else {})}
    return getattr(client, method)(url, data or {}, headers=headers, **extra)
