"""The whole API against its own OpenAPI schema (schemathesis): as a member, a lead and a
read-only token, every operation answers no 500 and nothing the schema does not describe
(status codes, content types, headers, bodies).

Path parameters point at the world's real team and objects, so the generated bodies and
queries reach the services rather than stopping at a 404 (the role table covers the 404s).
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.api.api import api as ninja_api
from apps.api.testing import bearer, personal_token_for_tests
from apps.notifications.services import outbox
from apps.tasks import services as task_services
from apps.workflows import services as workflow_services

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


def test_the_schema_is_valid_openapi():
    """Against the OpenAPI 3.1 meta-schema (schemathesis' own validation)."""
    loaded = schemathesis.openapi.from_dict(ninja_api.get_openapi_schema())
    loaded.validate()  # raises with the first problem
    assert loaded.raw_schema["openapi"].startswith("3.1")


@pytest.fixture
def same_connection():
    """Django's WSGI handler closes the database connection after each request (the test
    client stops it the same way): keep the test's connection, and its transaction, open."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def callers(same_connection, team, member, lead, ml_template, trainer):
    task = task_services.create_task(team=team, title="Waiting", by=lead, checklist=["Check"])
    run = workflow_services.start_run(template=ml_template, title="churn", owner=lead, by=lead)
    [note] = outbox.notify(kind="assigned", recipients=[member], key="st:1", task=task)
    return {
        "ids": {
            "task_id": task.pk,
            "run_id": run.pk,
            "notification_id": note.pk,
            "item_id": task.checklist.get().pk,
        },
        "headers": [
            bearer(personal_token_for_tests(member, name="member")),
            bearer(personal_token_for_tests(lead, name="lead")),
            bearer(personal_token_for_tests(member, scope="read", name="read-only")),
        ],
    }


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_its_schema(case, callers):
    if case.path_parameters:
        for name in case.path_parameters:
            if name == "slug":
                case.path_parameters[name] = "data-science"
            elif name in callers["ids"]:
                case.path_parameters[name] = callers["ids"][name]
    for headers in callers["headers"]:
        case.call_and_validate(headers=headers, checks=CHECKS)
