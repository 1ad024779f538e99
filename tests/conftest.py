import os
import socket
import uuid
from urllib.parse import urlparse

import pytest
from django.db import connection
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from apps.api import limits as api_limits
from apps.boards import fragments
from apps.people.models import Role
from apps.people.version_triggers import constraint_names
from apps.tasks import services

from .factories import (
    PASSWORD,
    MembershipFactory,
    PersonSkillFactory,
    SkillFactory,
    TaskFactory,
    TeamFactory,
    UserFactory,
)

REQUIRE_SERVICES = os.environ.get("RELAY_REQUIRE_SERVICES") == "1"

# Hypothesis: a quick search on a laptop, a wider one in CI (which sets CI=true; Hypothesis's
# own "ci" profile, kept as the parent, also makes that search the same on every run). A test
# that names its own max_examples keeps it; the lifecycle state machine takes the profile's.
# Every example works against the database: no per-example deadline.
hypothesis_settings.register_profile(
    "default",
    hypothesis_settings.get_profile("default"),
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
hypothesis_settings.register_profile(
    "ci", hypothesis_settings.get_profile("ci"), max_examples=80, stateful_step_count=40
)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "default")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _missing(reason: str):
    """Where services are required (CI), a missing one fails the test instead of skipping."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _service_markers(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _missing(
            "needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/relay "
            "(make test-services)"
        )
    if request.node.get_closest_marker("redis"):
        url = urlparse(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
        if not _reachable(url.hostname or "127.0.0.1", url.port or 6379):
            _missing(f"needs Redis at {url.hostname}:{url.port or 6379}")


@pytest.fixture
def team(db):
    return TeamFactory(name="Data Science", slug="data-science")


@pytest.fixture
def make_member(team):
    def make(role=Role.MEMBER, team_=None, **kwargs):
        user = UserFactory(**kwargs)
        MembershipFactory(team=team_ or team, user=user, role=role)
        return user

    return make


@pytest.fixture
def member(make_member):
    return make_member(username="mia")


@pytest.fixture
def other_member(make_member):
    return make_member(username="otto")


@pytest.fixture
def reviewer(make_member):
    return make_member(Role.REVIEWER, username="rita")


@pytest.fixture
def lead(make_member):
    return make_member(Role.LEAD, username="leo")


@pytest.fixture
def outsider(db):
    other_team = TeamFactory(name="Elsewhere", slug="elsewhere")
    user = UserFactory(username="olga")
    MembershipFactory(team=other_team, user=user, role=Role.LEAD)
    return user


@pytest.fixture
def task(team, lead):
    return services.create_task(team=team, title="Train churn model", by=lead)


@pytest.fixture
def make_task(team, lead):
    def make(**kwargs):
        kwargs.setdefault("title", "A task")
        return services.create_task(team=kwargs.pop("team", team), by=lead, **kwargs)

    return make


@pytest.fixture
def client_for(client):
    """A test client logged in as the given user (one client, switched per call)."""

    def login(user):
        client.force_login(user)
        return client

    return login


__all__ = ["PASSWORD", "TaskFactory"]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _attachments_in_tmp(settings, tmp_path):
    """Attached files go to the test's own directory, never the checkout's attachments/."""
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "attachments")},
        },
    }


@pytest.fixture(autouse=True)
def _version_bumps_immediate(request):
    """On PostgreSQL the version counters are bumped at commit (deferred constraint triggers,
    apps.people.version_triggers); a test inside one never-committed transaction makes them
    immediate so that it sees the bumps of what it just did, as a committed request would."""
    if connection.vendor == "postgresql":
        marker = request.node.get_closest_marker("django_db")
        uses_db = marker is not None or "db" in request.fixturenames
        transactional = (
            marker is not None and marker.kwargs.get("transaction")
        ) or "transactional_db" in request.fixturenames
        if uses_db and not transactional:
            request.getfixturevalue("db")
            with connection.cursor() as cursor:
                cursor.execute(f"SET CONSTRAINTS {', '.join(constraint_names())} IMMEDIATE")
    yield


@pytest.fixture(autouse=True)
def _board_fragments_of_this_test(monkeypatch):
    """Each test's database starts again from the same ids and counters, so a board fragment
    cached by an earlier test would answer for data that no longer exists (in a deployment
    counters only go up; after restoring a database, clear the cache: README). A key prefix
    of its own per test, rather than clearing a cache that parallel workers share."""
    monkeypatch.setattr(fragments, "KEY_PREFIX", f"board-{uuid.uuid4().hex}")
    # The API's rate counters are keyed on token and person ids, which start again too.
    monkeypatch.setattr(api_limits, "KEY_PREFIX", f"api-rate-{uuid.uuid4().hex}")


# The ML example's people (the workflow and API tests share them).
@pytest.fixture
def skills(db):
    return {
        "ml-training": SkillFactory(slug="ml-training"),
        "ml-review": SkillFactory(slug="ml-review", is_review_skill=True),
        "python": SkillFactory(slug="python"),
        "devops": SkillFactory(slug="devops"),
        "support": SkillFactory(slug="support"),
        "writing": SkillFactory(slug="writing"),
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
