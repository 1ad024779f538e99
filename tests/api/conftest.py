import copy
import json

import pytest

from apps.api.testing import bearer, personal_token_for_tests, service_token_for_tests
from apps.workflows import definitions, exchange

API = "/api/v1"


@pytest.fixture
def ml_template(team, skills, trainer, ml_reviewer, lead):
    return exchange.import_template(copy.deepcopy(definitions.ML_DEPLOYMENT), team=team)


@pytest.fixture
def api(client):
    """Calls the API as a token (`as_token`) or the logged-in session, JSON in and out."""

    class Api:
        def __init__(self):
            self.headers: dict[str, str] = {}

        def as_token(self, secret: str) -> "Api":
            self.headers = bearer(secret)
            return self

        def as_user(self, user) -> "Api":
            client.force_login(user)
            self.headers = {}
            return self

        def get(self, path: str, **params):
            return client.get(API + path, params, headers=self.headers)

        def post(self, path: str, body: dict | None = None):
            return client.post(
                API + path,
                json.dumps(body or {}),
                content_type="application/json",
                headers=self.headers,
            )

    return Api()


__all__ = ["bearer", "personal_token_for_tests", "service_token_for_tests"]
