"""Login throttling: guessing passwords locks the guesser out, with a page that says so."""

from datetime import timedelta
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.utils import timezone

from ..factories import PASSWORD

LOGIN_PAGES = ["/login/", "/admin/login/", "/team-admin/login/"]


def attempt(client, path, username, password, address="203.0.113.7"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in_as(client):
    return client.session.get("_auth_user_id")


@pytest.mark.parametrize("path", LOGIN_PAGES)
def test_thirty_wrong_passwords_lock_the_account_out_even_for_the_right_one(client, lead, path):
    lead.is_staff = True  # the admin's login takes staff only (the team admin, leads)
    lead.save(update_fields=["is_staff"])
    answers = [attempt(client, path, "leo", f"wrong-{i}").status_code for i in range(30)]

    # The first four failures are told the password is wrong; the fifth locks the account.
    assert answers[:4] == [200] * 4
    assert answers[4:] == [429] * 26
    response = attempt(client, path, "leo", PASSWORD)
    assert response.status_code == 429
    assert logged_in_as(client) is None
    page = response.content.decode()
    assert "Too many failed logins" in page
    assert "locked for 15 minutes, even with the right password" in page
    assert '<link rel="stylesheet"' in page  # our own page, not a bare message


def test_the_lock_is_for_that_account_from_that_address(client, lead, member):
    for i in range(5):
        attempt(client, "/login/", "leo", f"wrong-{i}")
    assert attempt(client, "/login/", "leo", PASSWORD).status_code == 429

    # Leo from another address, and Mia from the same one, still log in.
    assert attempt(client, "/login/", "leo", PASSWORD, address="198.51.100.1").status_code == 302
    assert int(logged_in_as(client)) == lead.pk
    client.logout()
    assert attempt(client, "/login/", "mia", PASSWORD).status_code == 302
    assert int(logged_in_as(client)) == member.pk


def test_one_address_trying_many_accounts_is_locked_out(client, member, make_member):
    for i in range(20):
        attempt(client, "/login/", f"someone-{i}", "password1")

    response = attempt(client, "/login/", "mia", PASSWORD)
    assert response.status_code == 429
    assert logged_in_as(client) is None
    assert attempt(client, "/login/", "mia", PASSWORD, address="198.51.100.1").status_code == 302


def test_the_lock_ends_after_the_cool_off(client, lead, settings):
    for i in range(5):
        attempt(client, "/login/", "leo", f"wrong-{i}")
    assert attempt(client, "/login/", "leo", PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert attempt(client, "/login/", "leo", PASSWORD).status_code == 302
    assert int(logged_in_as(client)) == lead.pk


@pytest.mark.parametrize(
    ("command", "argument"),
    [("axes_reset_username", "leo"), ("axes_reset_ip", "203.0.113.7"), ("axes_reset", None)],
)
def test_an_administrator_unlocks_with_a_reset_command(client, lead, command, argument):
    for i in range(5):
        attempt(client, "/login/", "leo", f"wrong-{i}")
    assert attempt(client, "/login/", "leo", PASSWORD).status_code == 429

    call_command(command, *([argument] if argument else []), stdout=StringIO())

    assert attempt(client, "/login/", "leo", PASSWORD).status_code == 302
    assert int(logged_in_as(client)) == lead.pk


def test_behind_trusted_proxies_the_address_is_the_one_they_saw(client, lead, member, settings):
    settings.RELAY_TRUSTED_PROXIES = 1
    # Everyone reaches Relay through the proxy at 10.0.0.1; it appends the client's address.
    for i in range(5):
        client.post(
            "/login/",
            {"username": "leo", "password": f"wrong-{i}"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, 203.0.113.7",  # the left part is the client's
        )
    locked = client.post(
        "/login/",
        {"username": "leo", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )
    assert locked.status_code == 429
    other = client.post(
        "/login/",
        {"username": "leo", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.1",
    )
    assert other.status_code == 302


def test_without_trusted_proxies_a_forwarded_for_header_changes_nothing(client, lead):
    for i in range(5):
        client.post(
            "/login/",
            {"username": "leo", "password": f"wrong-{i}"},
            REMOTE_ADDR="203.0.113.7",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}",  # a guesser pretending to be elsewhere
        )
    response = client.post(
        "/login/", {"username": "leo", "password": PASSWORD}, REMOTE_ADDR="203.0.113.7"
    )
    assert response.status_code == 429
