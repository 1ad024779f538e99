"""A person's pages answered again from memory (apps.boards.page_cache): only while they are
exactly what the view would render now, for that person and that session; anything else is
the view's (a change by anyone, a logout, an expiry, a password change, leaving the team, a
pending message, staff)."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.messages import SUCCESS
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.http import HttpRequest
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.boards import page_cache
from apps.boards import services as board_services
from apps.notifications.services import inbox
from apps.people.models import Membership, Role, User
from apps.tasks import attachments, edits, services
from apps.tasks.models import ChecklistItem

from ..factories import PASSWORD

pytestmark = pytest.mark.django_db
WITHOUT_CACHE = [m for m in settings.MIDDLEWARE if not m.endswith("PageCacheMiddleware")]
TOKEN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])")
HTMX = {"HX-Request": "true"}


def _pages(task):
    return [
        (reverse("tasks:task_detail", args=[task.pk]), {}),
        (reverse("tasks:task_detail", args=[task.pk]), HTMX),
        (reverse("boards:drawer", args=[task.pk]), HTMX),
        (reverse("boards:task_list", args=[task.team.slug]), {}),
        (reverse("boards:task_list", args=[task.team.slug]) + "?sort=title", HTMX),
        (reverse("boards:my_work"), {}),
        (reverse("boards:reviews"), {}),
    ]


def _login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _warm(client, url, headers=None):
    """Three times: the first page sets the CSRF cookie, the second tells the process who the
    session is, the third is kept."""
    for _ in range(3):
        response = client.get(url, headers=headers or {})
        assert response.status_code == 200
    return response


def _uncached(client, url, headers=None):
    with override_settings(MIDDLEWARE=WITHOUT_CACHE):
        fresh = Client()
        fresh.cookies = client.cookies
        return fresh.get(url, headers=headers or {})


def _text(response) -> str:
    return TOKEN.sub("CSRF", response.content.decode())


def _assert_current(client, url, headers=None):
    """What the client gets is what the view renders now (the CSRF token's mask aside)."""
    got = client.get(url, headers=headers or {})
    expected = _uncached(client, url, headers)
    assert got.status_code == expected.status_code
    assert _text(got) == _text(expected)
    return got


@pytest.fixture
def in_progress(make_task, member, lead):
    task = make_task(title="Train churn model", requires_review=True)
    services.assign_to(task=task, assignee=member, by=lead)
    services.start(task=task, by=member)
    ChecklistItem.objects.create(task=task, text="Write the notes", position=0)
    return task


def test_a_page_seen_again_is_answered_from_one_query(
    in_progress, member, django_assert_max_num_queries
):
    client = _login(member)
    for url, headers in _pages(in_progress):
        _warm(client, url, headers)
        with django_assert_max_num_queries(1):
            again = client.get(url, headers=headers)
        assert again.status_code == 200
        assert _text(again) == _text(_uncached(client, url, headers))


def test_its_headers_and_cookie_are_the_views_own(in_progress, member):
    client = _login(member)
    url = reverse("tasks:task_detail", args=[in_progress.pk])
    _warm(client, url)
    kept = client.get(url)
    normal = _uncached(client, url)
    assert dict(kept.headers) == dict(normal.headers)
    csrf = settings.CSRF_COOKIE_NAME
    assert kept.cookies[csrf].value == normal.cookies[csrf].value
    assert kept.cookies[csrf]["max-age"] == normal.cookies[csrf]["max-age"]


def test_each_answer_masks_the_csrf_token_afresh_and_it_is_accepted(in_progress, member):
    client = _login(member)
    client.handler.enforce_csrf_checks = True
    url = reverse("tasks:task_detail", args=[in_progress.pk])
    _warm(client, url)
    first, second = client.get(url), client.get(url)
    tokens = TOKEN.findall(first.content.decode()), TOKEN.findall(second.content.decode())
    assert tokens[0] and tokens[0][0] != tokens[1][0]
    secret = client.cookies[settings.CSRF_COOKIE_NAME].value
    assert {_unmask_cipher_token(t) for t in tokens[0] + tokens[1]} == {secret}
    posted = client.post(
        reverse("tasks:task_comment", args=[in_progress.pk]),
        {"body": "Sent from a kept page"},
        headers={"X-CSRFToken": tokens[1][0]},
    )
    assert posted.status_code in (200, 302)
    assert "Sent from a kept page" in client.get(url).content.decode()


def _upload():
    return SimpleUploadedFile("notes.txt", b"plain notes", content_type="text/plain")


# Every way the pages' task changes, by someone other than the viewer or by the viewer.
CHANGES = {
    "comment": lambda t, m, lead: services.add_comment(task=t, author=lead, body="Nice curve"),
    "submit": lambda t, m, lead: services.submit(task=t, by=m),
    "hold": lambda t, m, lead: services.hold(task=t, by=lead),
    "cancel": lambda t, m, lead: services.cancel(task=t, by=lead),
    "resume": lambda t, m, lead: (
        services.hold(task=t, by=lead),
        services.resume(task=t, by=lead),
    ),
    "reject": lambda t, m, lead: (
        services.submit(task=t, by=m),
        services.reject(task=t, by=lead),
    ),
    "move on the board": lambda t, m, lead: board_services.move(
        task=t, from_state="in_progress", to_state="in_review", by=m
    ),
    "reorder": lambda t, m, lead: board_services.reorder(
        team=t.team,
        state="in_progress",
        ordered_ids=[
            services.create_task(team=t.team, title="Before it", by=lead, assignee=m).pk,
            t.pk,
        ],
    ),
    "notifications read": lambda t, m, lead: inbox.mark_all_read(user=m),
    "the person renamed": lambda t, m, lead: User.objects.filter(pk=m.pk).update(
        first_name="Renamed"
    ),
    "the person away": lambda t, m, lead: User.objects.filter(pk=m.pk).update(is_away=True),
    "complete": lambda t, m, lead: (
        services.submit(task=t, by=m),
        services.approve(task=t, by=lead),
    ),
    "request changes": lambda t, m, lead: (
        services.submit(task=t, by=m),
        services.request_changes(task=t, by=lead, note="More data"),
    ),
    "edit": lambda t, m, lead: edits.edit_task(
        task=t, by=lead, version=edits.version_of(t), title="Train the churn model again"
    ),
    "tick": lambda t, m, lead: services.toggle_checklist_item(
        item=t.checklist.get(), by=m, done=True
    ),
    "watch": lambda t, m, lead: services.set_watching(task=t, user=m, watching=True),
    "attach": lambda t, m, lead: attachments.attach(task=t, by=lead, upload=_upload()),
    "new task": lambda t, m, lead: services.create_task(
        team=t.team, title="Another one", by=lead, assignee=m
    ),
}


@pytest.mark.parametrize("change", CHANGES)
def test_after_a_change_every_page_shows_it(change, in_progress, member, lead):
    client = _login(member)
    pages = _pages(in_progress)
    for url, headers in pages:
        _warm(client, url, headers)
    in_progress.refresh_from_db()
    CHANGES[change](in_progress, member, lead)
    for url, headers in pages:
        _assert_current(client, url, headers)


def test_a_notification_shows_in_the_header_of_a_kept_page(in_progress, member, lead):
    client = _login(member)
    url = reverse("tasks:task_detail", args=[in_progress.pk])
    _warm(client, url)
    before = _text(client.get(url))
    services.add_comment(task=in_progress, author=lead, body=f"@{member.username} look")
    after = _text(_assert_current(client, url))
    assert re.findall(r"unread-badge.*?</a>", before, re.S) != re.findall(
        r"unread-badge.*?</a>", after, re.S
    )


def test_a_change_shows_on_the_reviewers_queue(in_progress, member, make_member):
    reviewer = make_member(Role.REVIEWER, username="rita")
    client = _login(reviewer)
    url = reverse("boards:reviews")
    _warm(client, url)
    services.submit(task=in_progress, by=member)
    assert in_progress.title in _assert_current(client, url).content.decode()


def _actions(response) -> set[str]:
    return set(re.findall(r'name="action" value="([a-z_]+)"', response.content.decode()))


def test_two_people_on_one_task_each_get_their_own_controls(in_progress, member, lead):
    url = reverse("tasks:task_detail", args=[in_progress.pk])
    lead_client, member_client = _login(lead), _login(member)
    for client in (lead_client, member_client):
        _warm(client, url)
    as_lead = _assert_current(lead_client, url)
    as_member = _assert_current(member_client, url)
    assert _text(as_lead) != _text(as_member)
    assert f'<span class="username">{lead.display_name}</span>' in _text(as_lead)
    assert f'<span class="username">{member.display_name}</span>' in _text(as_member)
    assert _actions(as_lead) != _actions(as_member)


def test_a_logged_out_session_never_gets_a_kept_page(in_progress, member):
    client = _login(member)
    url = reverse("tasks:task_detail", args=[in_progress.pk])
    _warm(client, url)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post(reverse("logout"))
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    assert client.get(url).status_code == 302


def test_an_expired_session_never_gets_a_kept_page(in_progress, member):
    client = _login(member)
    url = reverse("boards:my_work")
    _warm(client, url)
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get(url).status_code == 302


def test_a_changed_password_never_gets_a_kept_page(in_progress, member):
    client = _login(member)
    url = reverse("boards:drawer", args=[in_progress.pk])
    _warm(client, url, HTMX)
    member.set_password("another-pass-9")
    member.save()
    assert client.get(url, headers=HTMX).status_code == 302


def test_who_left_the_team_never_gets_a_kept_page(in_progress, member, team):
    client = _login(member)
    url = reverse("tasks:task_detail", args=[in_progress.pk])
    _warm(client, url)
    Membership.objects.filter(team=team, user=member).delete()
    assert client.get(url).status_code == 404


def test_a_pending_message_is_shown_not_a_kept_page(in_progress, member):
    client = _login(member)
    url = reverse("boards:my_work")
    _warm(client, url)
    pending = CookieStorage(HttpRequest())._encode([Message(SUCCESS, "Saved your view")])
    client.cookies[CookieStorage.cookie_name] = pending
    assert "Saved your view" in client.get(url).content.decode()


def test_a_page_older_than_its_time_is_rendered_again(in_progress, member, monkeypatch):
    client = _login(member)
    url = reverse("boards:my_work")
    _warm(client, url)
    later = page_cache.time.monotonic() + settings.RELAY_PAGE_CACHE_SECONDS + 1
    monkeypatch.setattr(page_cache.time, "monotonic", lambda: later)
    in_progress.__class__.objects.filter(pk=in_progress.pk).update(title="Changed behind")
    assert "Changed behind" in client.get(url).content.decode()


def test_staff_pages_are_not_kept(in_progress, member):
    member.is_staff = True
    member.save()
    client = _login(member)
    url = reverse("boards:my_work")
    _warm(client, url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert len(queries) > 3  # the session, the person, the page's own
