import copy
import json

import pytest

from apps.api.testing import bearer, personal_token_for_tests, service_token_for_tests
from apps.people.models import Role
from apps.workflows import definitions, exchange

from ..factories import PersonSkillFactory, SkillFactory

API = "/api/v1"


@pytest.fixture
def skills(db):
    return {
        "ml-training": SkillFactory(slug="ml-training"),
        "ml-review": SkillFactory(slug="ml-review", is_review_skill=True),
        "python": SkillFactory(slug="python"),
        "devops": SkillFactory(slug="devops"),
    }


@pytest.fixture
def trainer(make_member, skills):
    user = make_member(username="tara", capacity=5)
    PersonSkillFactory(user=user, skill=skills["ml-training"], level=4)
    return user


@pytest.fixture
def ml_reviewer(make_member, skills):
    user = make_member(Role.REVIEWER, username="rex", capacity=5)
    PersonSkillFactory(user=user, skill=skills["ml-review"], level=4)
    return user


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
