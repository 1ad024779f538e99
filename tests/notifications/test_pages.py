"""The inbox, the header badge and the settings page."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.notifications.models import Channel, Kind, Notification, NotificationSettings

from ..html import text_of, texts_of, values_of

pytestmark = pytest.mark.django_db

INBOX = reverse("notifications:inbox")
SETTINGS = reverse("notifications:preferences")


def make_notes(user, count, read=False, title="Note"):
    base = timezone.now() - timedelta(hours=1)
    return Notification.objects.bulk_create(
        Notification(
            recipient=user,
            kind=Kind.ASSIGNED,
            key=f"{user.pk}:{title}:{i}",
            payload={"title": f"{title} {i}", "by": "Leo"},
            created_at=base + timedelta(minutes=i),
            read_at=timezone.now() if read else None,
        )
        for i in range(count)
    )


def test_inbox_lists_unread_before_read(client_for, member):
    make_notes(member, 1, title="Old unread")
    make_notes(member, 1, read=True, title="Newer read")
    html = client_for(member).get(INBOX).content.decode()
    assert html.index("Old unread 0") < html.index("Newer read 0")


def test_inbox_shows_only_my_notifications(client_for, member, other_member):
    make_notes(member, 1, title="Yours")
    make_notes(other_member, 1, title="Not yours")
    titles = texts_of(client_for(member).get(INBOX), class_="inbox-title")
    assert titles == ["Yours 0"]


def test_inbox_escapes_user_text(client_for, member):
    Notification.objects.create(
        recipient=member, kind=Kind.ASSIGNED, key="x", payload={"title": "<script>x</script>"}
    )
    html = client_for(member).get(INBOX).content.decode()
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html


def test_marking_one_read_with_htmx_returns_the_row_and_the_badge(client_for, member):
    first, _ = make_notes(member, 2)
    response = client_for(member).post(
        reverse("notifications:mark_read", args=[first.pk]), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert f'id="notification-{first.pk}"' in html and "is-read" in html
    assert 'id="unread-badge"' in html and 'hx-swap-oob="true"' in html
    assert '<span class="count">1</span>' in html
    first.refresh_from_db()
    assert first.read_at is not None


def test_someone_elses_notification_cannot_be_marked(client_for, member, other_member):
    [theirs] = make_notes(other_member, 1)
    response = client_for(member).post(reverse("notifications:mark_read", args=[theirs.pk]))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read_clears_the_badge(client_for, member, other_member):
    make_notes(member, 3)
    make_notes(other_member, 2)
    response = client_for(member).post(reverse("notifications:mark_all_read"), follow=True)
    assert "Marked 3 notifications read." in response.content.decode()
    assert Notification.objects.filter(recipient=member, read_at=None).count() == 0
    assert Notification.objects.filter(recipient=other_member, read_at=None).count() == 2


def test_header_badge_links_to_the_inbox_with_the_unread_count(client_for, member, task):
    make_notes(member, 4)
    html = client_for(member).get(task.get_absolute_url()).content.decode()
    assert values_of(html, "href", id="unread-badge") == [INBOX]
    assert text_of(html, id="unread-badge") == "4 unread notifications"


def test_badge_endpoint_returns_just_the_badge(client_for, member):
    make_notes(member, 2)
    response = client_for(member).get(reverse("notifications:badge"))
    html = response.content.decode().strip()
    assert html.startswith('<a id="unread-badge"') and "<html" not in html
    assert '<span class="count">2</span>' in html


def test_pages_need_a_login(client):
    response = client.get(INBOX)
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("count", [5, 120])
def test_inbox_query_count_does_not_grow_with_notifications(
    client_for, member, count, django_assert_max_num_queries
):
    make_notes(member, count)
    client = client_for(member)
    # session, user, page count, page, unread count, the header nav's teams
    with django_assert_max_num_queries(7):
        response = client.get(INBOX)
    shown = texts_of(response, class_="inbox-title")
    assert len(shown) == min(count, 50)  # one page
    assert shown[0] == f"Note {count - 1}"  # newest first


def test_settings_page_saves_choices(client_for, member):
    data = {f"channel_{k}": Channel.IMMEDIATE for k in Kind if k != Kind.DIGEST}
    data |= {
        "channel_assigned": Channel.DIGEST,
        "time_zone": "Europe/Paris",
        "digest_hour": "7",
        "digest_enabled": "on",
    }
    response = client_for(member).post(SETTINGS, data, follow=True)
    assert "Your notification settings are saved." in response.content.decode()
    prefs = NotificationSettings.objects.get(user=member)
    assert (prefs.time_zone, prefs.digest_hour) == ("Europe/Paris", 7)
    assert prefs.channel_for(Kind.ASSIGNED) == Channel.DIGEST
    assert prefs.channel_for(Kind.APPROVED) == Channel.IMMEDIATE


def test_settings_page_refuses_an_unknown_time_zone(client_for, member):
    data = {f"channel_{k}": Channel.IMMEDIATE for k in Kind if k != Kind.DIGEST}
    data |= {"time_zone": "Mars/Olympus", "digest_hour": "7"}
    response = client_for(member).post(SETTINGS, data)
    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()
    assert not NotificationSettings.objects.filter(user=member).exists()


def test_settings_page_shows_defaults_to_a_new_person(client_for, member):
    response = client_for(member).get(SETTINGS)
    html = response.content.decode()
    assert re.search(r'name="channel_assigned" value="immediate"[^>]*checked', html)
    assert re.search(r'name="digest_enabled"[^>]*checked', html)  # the digest is on …
    hour = response.context["form"]["digest_hour"].value()
    assert int(hour) == NotificationSettings.DEFAULT_DIGEST_HOUR  # … at the default hour


def test_marking_one_read_also_updates_the_inbox_heading(client_for, member):
    first, _ = make_notes(member, 2)
    response = client_for(member).post(
        reverse("notifications:mark_read", args=[first.pk]), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert 'id="inbox-unread"' in html and "· 1 unread" in html


def test_fresh_notifications_say_just_now(client_for, member):
    Notification.objects.create(recipient=member, kind=Kind.ASSIGNED, key="now", payload={})
    assert text_of(client_for(member).get(INBOX), class_="inbox-meta") == "just now"


def test_opening_a_notification_marks_it_read_and_goes_to_its_task(client_for, member, task):
    note = Notification.objects.create(
        recipient=member, kind=Kind.ASSIGNED, key="open:1", task=task, payload={"title": "T"}
    )
    client = client_for(member)
    assert f'href="{reverse("notifications:open", args=[note.pk])}"' in client.get(INBOX).text
    response = client.get(reverse("notifications:open", args=[note.pk]))
    assert response.status_code == 302 and response.url == task.get_absolute_url()
    note.refresh_from_db()
    assert note.read_at is not None


def test_opening_a_notification_about_a_page_goes_there(client_for, member):
    note = Notification.objects.create(
        recipient=member, kind=Kind.UNASSIGNABLE, key="open:2", payload={"url": "/runs/1/"}
    )
    response = client_for(member).get(reverse("notifications:open", args=[note.pk]))
    assert response.url == "/runs/1/"


def test_nobody_opens_someone_elses_notification(client_for, member, other_member):
    [note] = make_notes(other_member, 1)
    response = client_for(member).get(reverse("notifications:open", args=[note.pk]))
    assert response.status_code == 404
    note.refresh_from_db()
    assert note.read_at is None


def test_inbox_and_settings_pages_have_the_main_navigation(client_for, member, team):
    client = client_for(member)
    for url in (INBOX, reverse("notifications:preferences"), reverse("people:availability")):
        page = client.get(url).text
        assert f'href="{reverse("boards:board", args=[team.slug])}"' in page, url
        assert 'id="work-links"' in page, url
