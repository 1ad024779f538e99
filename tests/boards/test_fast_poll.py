"""The unchanged poll's fast path (apps.boards.fast_poll): a 304 from one query, only when the
view would answer 304 with the same headers; every doubt goes on to the view (302/404/200)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import DatabaseError
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from apps.boards import fast_poll
from apps.tasks import services

from ..factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
WITHOUT_FAST_PATH = [m for m in settings.MIDDLEWARE if not m.endswith("FastPollMiddleware")]


@pytest.fixture
def poll_url(team):
    return reverse("boards:poll", args=[team.slug])


@pytest.fixture
def polling(client, poll_url, task, member):
    """A member's client that has had one 304 (the fast path knows the session), its ETag."""
    assert client.login(username=member.username, password=PASSWORD)
    etag = client.get(poll_url)["ETag"]
    assert client.get(poll_url, headers={"If-None-Match": etag}).status_code == 304
    return client, etag


def _poll(client, url, etag):
    return client.get(url, headers={"If-None-Match": etag})


def test_an_unchanged_poll_is_a_304_from_one_query(polling, poll_url, django_assert_num_queries):
    client, etag = polling
    with django_assert_num_queries(1):
        response = _poll(client, poll_url, etag)
    assert response.status_code == 304
    assert response["ETag"] == etag


def test_its_headers_are_the_views_own(polling, poll_url):
    client, etag = polling
    fast = _poll(client, poll_url, etag)
    with override_settings(MIDDLEWARE=WITHOUT_FAST_PATH):
        normal_client = Client()
        normal_client.cookies = client.cookies
        normal = _poll(normal_client, poll_url, etag)
    assert normal.status_code == fast.status_code == 304
    assert dict(fast.headers) == dict(normal.headers)


def test_a_change_through_a_service_makes_it_the_board(polling, poll_url, task, lead):
    client, etag = polling
    services.add_comment(task=task, author=lead, body="Looks good")
    response = _poll(client, poll_url, etag)
    assert response.status_code == 200
    assert response["ETag"] != etag


def test_a_database_error_in_the_fast_path_is_the_views_to_answer(polling, poll_url, monkeypatch):
    client, etag = polling

    def broken(*args, **kwargs):
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr(fast_poll, "fetch_prepared", broken)
    response = _poll(client, poll_url, etag)
    assert response.status_code == 304  # from the view, which checks its connection first
    assert response["ETag"] == etag


def test_a_logged_out_session_goes_to_the_login_page(polling, poll_url):
    client, etag = polling
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post(reverse("logout"))
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    assert _poll(client, poll_url, etag).status_code == 302


def test_an_expired_session_goes_to_the_login_page(polling, poll_url):
    client, etag = polling
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert _poll(client, poll_url, etag).status_code == 302


def test_a_tampered_session_goes_to_the_login_page(polling, poll_url):
    client, etag = polling
    session = Session.objects.get()
    session.session_data = session.session_data[:-3] + "xyz"  # the signature no longer holds
    session.save()
    assert _poll(client, poll_url, etag).status_code == 302


def test_a_session_after_a_password_change_goes_to_the_login_page(polling, poll_url, member):
    client, etag = polling
    member.set_password("another-long-pass-9")
    member.save()
    assert _poll(client, poll_url, etag).status_code == 302


def test_an_inactive_person_goes_to_the_login_page(polling, poll_url, member):
    client, etag = polling
    member.is_active = False
    member.save(update_fields=["is_active"])
    assert _poll(client, poll_url, etag).status_code == 302


def test_a_person_who_left_the_team_gets_a_404(polling, poll_url, member):
    client, etag = polling
    member.memberships.all().delete()
    assert _poll(client, poll_url, etag).status_code == 404


def test_staff_poll_any_team_and_a_demoted_one_no_longer(client, poll_url, task):
    staff = UserFactory(username="sam", is_staff=True)
    client.force_login(staff)
    etag = client.get(poll_url)["ETag"]
    assert _poll(client, poll_url, etag).status_code == 304
    assert _poll(client, poll_url, etag).status_code == 304
    staff.is_staff = False
    staff.save(update_fields=["is_staff"])
    assert _poll(client, poll_url, etag).status_code == 404
