"""The API's limits and its errors: a rate per caller (429 with Retry-After), a body size
(413), and every error as JSON with a sentence, including Django's own 404, 405 and 500."""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches

from apps.api import limits
from apps.api.errors import RateLimited
from apps.api.testing import bearer, personal_token_for_tests
from apps.tasks.models import Task


@pytest.fixture(autouse=True)
def _fresh_cache():
    caches["default"].clear()


def test_over_the_rate_a_caller_gets_429_and_when_to_retry(client, member, settings):
    settings.RELAY_API_RATE_LIMIT = 3
    secret = personal_token_for_tests(member)
    for _ in range(3):
        assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    refused = client.get("/api/v1/me", headers=bearer(secret))
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= settings.RELAY_API_RATE_WINDOW
    assert refused.json()["detail"].startswith("Too many requests: 3 per 60 seconds")


def test_the_rate_is_counted_per_caller(client, member, lead, settings):
    settings.RELAY_API_RATE_LIMIT = 1
    mine, theirs = personal_token_for_tests(member), personal_token_for_tests(lead)
    assert client.get("/api/v1/me", headers=bearer(mine)).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(mine)).status_code == 429
    assert client.get("/api/v1/me", headers=bearer(theirs)).status_code == 200
    client.force_login(member)  # a session is counted as its person, apart from the tokens
    assert client.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/me").status_code == 429


def test_a_new_window_opens_a_new_budget(settings):
    settings.RELAY_API_RATE_LIMIT = 1
    limits.check_rate(caller_key="k", now=120.0)
    with pytest.raises(RateLimited) as refused:
        limits.check_rate(caller_key="k", now=150.5)
    assert refused.value.headers["Retry-After"] == "30"
    limits.check_rate(caller_key="k", now=180.0)


@pytest.mark.redis
def test_concurrent_requests_share_one_budget_in_redis(settings):
    """Two gunicorn workers share the count through Redis: of 20 requests at once within a
    budget of 5, exactly 5 pass."""
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"relay-test-{os.getpid()}-{threading.get_ident()}",
        }
    }
    settings.RELAY_API_RATE_LIMIT = 5
    caches["default"].clear()

    def one(_):
        try:
            limits.check_rate(caller_key="token:1", now=1_000_000.0)
        except RateLimited:
            return False
        return True

    with ThreadPoolExecutor(max_workers=10) as pool:
        passed = sum(pool.map(one, range(20)))
    assert passed == 5


def test_a_body_over_the_limit_is_refused_unread(client, member, team, settings):
    settings.RELAY_API_MAX_BODY_BYTES = 1000
    secret = personal_token_for_tests(member)
    response = client.post(
        "/api/v1/teams/data-science/tasks",
        '{"title": "' + "x" * 2000 + '"}',
        content_type="application/json",
        headers=bearer(secret),
    )
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is larger than 1000 bytes, the API's limit."
    }
    assert not Task.objects.exists()


def test_an_unknown_address_is_a_json_404(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no such API address: see /api/docs."}


def test_a_wrong_method_is_a_json_405(client, member):
    response = client.get("/api/v1/runs/1/cancel", headers=bearer(personal_token_for_tests(member)))
    assert response.status_code == 405
    assert response.json()["detail"] == "This address does not take GET: see /api/docs."


def test_a_crash_is_a_json_500_with_a_sentence(client, member, monkeypatch):
    from apps.api import people

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(people.assignment, "workload", broken)
    response = client.get(
        "/api/v1/teams/data-science/people", headers=bearer(personal_token_for_tests(member))
    )
    assert response.status_code == 500
    assert response.json() == {
        "detail": "Relay failed to answer this request; the error is logged."
    }


def test_a_bad_body_is_a_422_that_names_the_field(client, member, team):
    response = client.post(
        "/api/v1/teams/data-science/tasks",
        {"priority": 9},
        content_type="application/json",
        headers=bearer(personal_token_for_tests(member)),
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "title: Field required." in detail and "priority:" in detail
