"""Tokens: made on the settings page and shown once, kept only as a digest, scoped, expiring,
revoked at once; service tokens act as the team's automation and say so in the history."""

import hashlib
import re
from datetime import timedelta

from django.utils import timezone

from apps.api.models import ApiToken
from apps.api.testing import bearer, personal_token_for_tests, service_token_for_tests
from apps.tasks.models import Task

TOKENS = "/settings/tokens/"


def _made(response) -> str:
    match = re.search(r'data-testid="secret">(relay_[^<]+)<', response.content.decode())
    assert match, "the new token's secret is on the page"
    return match.group(1)


def test_a_new_token_is_shown_once_and_kept_only_as_its_digest(client, member):
    client.force_login(member)
    response = client.post(
        TOKENS + "new/",
        {"personal-name": "laptop", "personal-scope": "read", "personal-days": "30"},
    )
    assert response.status_code == 201
    secret = _made(response)
    token = ApiToken.objects.get(user=member)
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    stored = " ".join(str(v) for v in ApiToken.objects.filter(pk=token.pk).values().get().values())
    assert secret not in stored
    again = client.get(TOKENS)
    assert "laptop" in again.content.decode()
    assert secret not in again.content.decode()
    assert client.get("/api/v1/me", headers=bearer(secret)).json()["username"] == member.username


def test_a_token_acts_as_its_person_and_records_when_it_was_used(client, member):
    secret = personal_token_for_tests(member)
    response = client.get("/api/v1/me", headers=bearer(secret))
    assert response.json() == {
        "username": member.username,
        "display_name": member.display_name,
        "team": None,
        "scope": "write",
        "token": "tests",
    }
    assert ApiToken.objects.get(user=member).last_used_at is not None


def test_revoking_a_token_stops_it_at_once(client, member):
    secret = personal_token_for_tests(member)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    client.force_login(member)
    token = ApiToken.objects.get(user=member)
    response = client.post(f"{TOKENS}{token.pk}/revoke/")
    assert response.status_code == 302
    client.logout()
    refused = client.get("/api/v1/me", headers=bearer(secret))
    assert refused.status_code == 401
    assert refused.json() == {"detail": "This token was revoked."}


def test_nobody_revokes_someone_elses_token(client, member, other_member):
    personal_token_for_tests(member)
    token = ApiToken.objects.get(user=member)
    client.force_login(other_member)
    assert client.post(f"{TOKENS}{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_an_expired_token_is_refused_saying_when_it_expired(client, member):
    secret = personal_token_for_tests(member)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(hours=1))
    response = client.get("/api/v1/me", headers=bearer(secret))
    assert response.status_code == 401
    assert response.json()["detail"].startswith("This token expired on ")


def test_a_wrong_token_is_refused_with_a_sentence(client, member):
    response = client.get("/api/v1/me", headers=bearer("relay_not-a-real-one"))
    assert response.status_code == 401
    assert "not valid" in response.json()["detail"]


def test_a_read_only_token_changes_nothing(client, member, team):
    secret = personal_token_for_tests(member, scope="read")
    response = client.post(
        "/api/v1/teams/data-science/tasks",
        {"title": "Sneaky"},
        content_type="application/json",
        headers=bearer(secret),
    )
    assert response.status_code == 403
    assert response.json()["detail"].startswith("This token is read-only")
    assert not Task.objects.exists()


def test_a_session_needs_the_csrf_token_for_a_change(member, team):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post(
        "/api/v1/teams/data-science/tasks", {"title": "x"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Task.objects.exists()
    assert client.get("/api/v1/me").status_code == 200  # reading needs none


def test_only_a_lead_makes_service_tokens_on_the_page(client, member, lead, team):
    client.force_login(member)
    page = client.get(TOKENS).content.decode()
    assert "Service tokens" not in page
    refused = client.post(
        TOKENS + "service/new/",
        {"service-team": team.pk, "service-name": "CI", "service-scope": "write"},
    )
    assert refused.status_code == 422
    assert not ApiToken.objects.exists()
    client.force_login(lead)
    made = client.post(
        TOKENS + "service/new/",
        {
            "service-team": team.pk,
            "service-name": "CI",
            "service-scope": "write",
            "service-days": "90",
        },
    )
    assert made.status_code == 201
    assert ApiToken.objects.get().team == team


def test_a_service_token_sees_only_its_team(client, team, lead, outsider):
    from apps.people.models import Team
    from apps.tasks import services

    elsewhere = Team.objects.get(slug="elsewhere")
    theirs = services.create_task(team=elsewhere, title="Not yours", by=outsider)
    secret = service_token_for_tests(team)
    teams = client.get("/api/v1/teams", headers=bearer(secret)).json()
    assert [t["slug"] for t in teams] == ["data-science"]
    assert client.get(f"/api/v1/tasks/{theirs.pk}", headers=bearer(secret)).status_code == 404
    assert client.get("/api/v1/teams/elsewhere/tasks", headers=bearer(secret)).status_code == 404


def test_what_a_service_token_does_is_in_the_history_under_its_name(client, team, lead, task):
    secret = service_token_for_tests(team, name="CI")
    response = client.post(
        f"/api/v1/tasks/{task.pk}/transitions",
        {"action": "cancel", "note": "superseded by build 42"},
        content_type="application/json",
        headers=bearer(secret),
    )
    assert response.status_code == 200, response.content
    [entry] = response.json()["history"]
    assert entry["by"] == "Relay automation"
    assert entry["note"] == "CI (service token) for Data Science: superseded by build 42"
    client.force_login(lead)
    page = client.get(task.get_absolute_url()).content.decode()
    assert "CI (service token) for Data Science" in page
