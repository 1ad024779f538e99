"""Every endpoint by every kind of caller: the API shows and refuses what the pages do.

The table holds one row per operation of the schema (a new operation without a row fails
test_every_operation_has_a_row), and one expected status per caller.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.api.api import api as ninja_api
from apps.api.models import ApiToken
from apps.api.testing import bearer, personal_token_for_tests
from apps.notifications.services import outbox
from apps.people.models import Role
from apps.tasks import services as task_services
from apps.workflows import definitions
from apps.workflows import services as workflow_services

from ..factories import MembershipFactory, TeamFactory, UserFactory

ROLES = ["anonymous", "other team", "member", "lead", "read-only token", "revoked", "expired"]
T = "/teams/data-science"

# (method, path, body, statuses): the status for anonymous, other team, member, lead,
# read-only token (the member's), revoked token, expired token. {task}, {run}, {note}: the world's.
TABLE = [
    ("GET", "/me", None, (401, 200, 200, 200, 200, 401, 401)),
    ("GET", "/teams", None, (401, 200, 200, 200, 200, 401, 401)),
    ("GET", T, None, (401, 404, 200, 200, 200, 401, 401)),
    ("GET", T + "/people", None, (401, 404, 200, 200, 200, 401, 401)),
    ("GET", T + "/tasks", None, (401, 404, 200, 200, 200, 401, 401)),
    ("POST", T + "/tasks", {"title": "New"}, (401, 404, 201, 201, 403, 401, 401)),
    ("GET", "/tasks/{task}", None, (401, 404, 200, 200, 200, 401, 401)),
    ("POST", "/tasks/{task}/comments", {"body": "Hi"}, (401, 404, 201, 201, 403, 401, 401)),
    ("POST", "/tasks/{task}/checklist/{item}", {"done": True}, (
        401, 404, 200, 200, 403, 401, 401,
    )),
    # Only a lead or the task's creator cancels it: the member is refused as the page refuses.
    ("POST", "/tasks/{task}/transitions", {"action": "cancel"}, (
        401, 404, 403, 200, 403, 401, 401,
    )),
    ("GET", T + "/runs", None, (401, 404, 200, 200, 200, 401, 401)),
    ("POST", T + "/runs", {"template": "ml-deployment", "title": "churn-v5"}, (
        401, 404, 201, 201, 403, 401, 401,
    )),
    ("GET", "/runs/{run}", None, (401, 404, 200, 200, 200, 401, 401)),
    # The run is the lead's: the member may not cancel it.
    ("POST", "/runs/{run}/cancel", {}, (401, 404, 403, 200, 403, 401, 401)),
    # Only a lead retries, and only a failed run: the world's run is running (409 for the lead).
    ("POST", "/runs/{run}/retry", {}, (401, 404, 403, 409, 403, 401, 401)),
    ("GET", T + "/templates", None, (401, 404, 200, 200, 200, 401, 401)),
    ("GET", T + "/templates/ml-deployment/export", None, (401, 404, 200, 200, 200, 401, 401)),
    # Importing is a lead's, as in the workflow admin.
    ("POST", T + "/templates/import", definitions.ML_DEPLOYMENT, (
        401, 404, 403, 201, 403, 401, 401,
    )),
    ("GET", "/notifications", None, (401, 200, 200, 200, 200, 401, 401)),
    # The member's notification: nobody else's to see.
    ("POST", "/notifications/{note}/read", {}, (401, 404, 200, 404, 403, 401, 401)),
    # A task that waits for no outside system: nobody may report on it (t11ext's own tests
    # cover the external step's reporters).
    ("POST", "/steps/{task}/result", {"outcome": "passed"}, (
        401, 404, 404, 404, 403, 401, 401,
    )),
]  # fmt: skip


def _template_path(path: str) -> str:
    return (
        path.replace("/teams/data-science", "/teams/{slug}")
        .replace("{task}", "{task_id}")
        .replace("{run}", "{run_id}")
        .replace("{note}", "{notification_id}")
        .replace("{item}", "{item_id}")
        .replace("/ml-deployment/", "/{template}/")
    )


def test_every_operation_has_a_row():
    schema = ninja_api.get_openapi_schema()
    operations = {
        (method.upper(), path.removeprefix("/api/v1"))
        for path, item in schema["paths"].items()
        for method in item
    }
    assert operations == {(m, _template_path(p)) for m, p, _, _ in TABLE}


@pytest.fixture
def world(team, member, lead, ml_template, trainer):
    TeamFactory(name="Elsewhere", slug="elsewhere")
    stranger = UserFactory(username="olga")
    MembershipFactory(team__slug="other", user=stranger, role=Role.LEAD)
    task = task_services.create_task(team=team, title="Waiting", by=lead, checklist=["Check"])
    run = workflow_services.start_run(template=ml_template, title="churn", owner=lead, by=lead)
    [note] = outbox.notify(kind="assigned", recipients=[member], key="roles:1", task=task)
    read_only = personal_token_for_tests(member, scope="read")
    revoked = personal_token_for_tests(member, name="old")
    ApiToken.objects.filter(name="old").update(revoked_at=timezone.now())
    expired = personal_token_for_tests(member, name="stale")
    ApiToken.objects.filter(name="stale").update(expires_at=timezone.now() - timedelta(days=1))
    return {
        "ids": {
            "task": task.pk,
            "run": run.pk,
            "note": note.pk,
            "item": task.checklist.get().pk,
        },
        "sessions": {"other team": stranger, "member": member, "lead": lead},
        "tokens": {"read-only token": read_only, "revoked": revoked, "expired": expired},
    }


CASES = [(row, role, i) for row in TABLE for i, role in enumerate(ROLES)]


@pytest.mark.parametrize(
    ("row", "role", "index"), CASES, ids=[f"{k[0]} {k[1]} as {r}" for k, r, _ in CASES]
)
def test_endpoint_by_role(client, world, row, role, index):
    method, path, body, statuses = row
    url = "/api/v1" + path.format(**world["ids"])
    headers = {}
    if role in world["sessions"]:
        client.force_login(world["sessions"][role])
    elif role in world["tokens"]:
        headers = bearer(world["tokens"][role])
    if method == "GET":
        response = client.get(url, headers=headers)
    else:
        response = client.post(url, body or {}, content_type="application/json", headers=headers)
    expected = statuses[index]
    assert response.status_code == expected, response.content
    assert response["Content-Type"].startswith("application/json")
    if expected >= 400:
        detail = response.json()["detail"]
        assert detail.endswith((".", ")")) and len(detail) > 10, detail
