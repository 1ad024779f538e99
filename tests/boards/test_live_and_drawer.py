from http import HTTPStatus

import pytest
from django.urls import reverse

from apps.boards import services as board_services
from apps.boards.models import SavedView
from apps.core.refusals import Refused
from apps.tasks import services
from apps.tasks.models import Comment, Task

from ..factories import UserFactory
from ..html import text_of, texts_of, values_of
from .conftest import htmx

pytestmark = pytest.mark.django_db


@pytest.fixture
def poll_url(team):
    return reverse("boards:poll", args=[team.slug])


def _etag(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return response["ETag"]


def test_unchanged_board_poll_is_a_304_with_one_board_query(
    client_for, poll_url, task, member, django_assert_max_num_queries
):
    client = client_for(member)
    etag = _etag(client, poll_url)
    # Session and user (every request) + one query for the team, access and board version.
    with django_assert_max_num_queries(3):
        response = client.get(poll_url, headers={"If-None-Match": etag})
    assert response.status_code == 304


def test_poll_answers_say_their_etag_and_private_no_cache(client_for, poll_url, task, member):
    client = client_for(member)
    changed = client.get(poll_url)
    unchanged = client.get(poll_url, headers={"If-None-Match": changed["ETag"]})
    assert (changed.status_code, unchanged.status_code) == (200, 304)
    for response in (changed, unchanged):
        assert response["ETag"] == changed["ETag"]
        assert response["Cache-Control"] == "private, no-cache"


def test_poll_matches_its_etag_among_several(client_for, poll_url, task, member):
    client = client_for(member)
    etag = _etag(client, poll_url)
    response = client.get(poll_url, headers={"If-None-Match": f'"elsewhere", {etag}'})
    assert response.status_code == 304


def test_a_changed_board_poll_reads_the_versions_then_the_team_once(
    client_for, poll_url, task, member, django_assert_max_num_queries
):
    client = client_for(member)
    with django_assert_max_num_queries(20) as captured:
        assert client.get(poll_url, headers={"If-None-Match": '"stale"'}).status_code == 200
    # The fast path's one query (apps.boards.fast_poll: session, person and versions), which
    # finds the board changed and hands over to the view; the view's version (the poll's raw
    # query); then the team with its version to render the board.
    team_reads = [q for q in captured.captured_queries if "people_teamversion" in q["sql"]]
    assert len([q for q in team_reads if '"people_team"' in q["sql"]]) == 3


def test_poll_answers_with_the_board_after_a_move(client_for, poll_url, task, member, lead):
    client = client_for(member)
    etag = _etag(client, poll_url)
    services.assign_to(task=task, assignee=member, by=lead)
    response = client.get(poll_url, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response["ETag"] != etag
    html = response.content.decode()
    assert f'id="card-{task.pk}"' in html.split('id="cell-0-assigned"')[1].split("</ul>")[0]
    assert f'id="card-{task.pk}"' not in html.split('id="cell-0-todo"')[1].split("</ul>")[0]
    # The header count rides along: the assignment notified the member.
    assert text_of(html, id="unread-badge", hx_swap_oob="true") == "1 unread notification"


def test_poll_sees_a_new_comment(client_for, poll_url, task, member):
    client = client_for(member)
    etag = _etag(client, poll_url)
    Comment.objects.create(task=task, author=member, body="hi")
    response = client.get(poll_url, headers={"If-None-Match": etag})
    assert response.status_code == 200
    card = response.content.decode().split(f'id="card-{task.pk}"')[1].split("</li>")[0]
    assert text_of(card, class_="comments-count") == "1"  # the card's comment count


def test_poll_etag_differs_per_filter(client_for, poll_url, task, member):
    client = client_for(member)
    assert _etag(client, poll_url) != _etag(client, poll_url + "?assignee=me")


def test_other_teams_poll_is_not_found(client_for, poll_url, outsider):
    assert client_for(outsider).get(poll_url).status_code == 404


def test_drawer_shows_details_history_and_viewer_actions(client_for, task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead, note="yours")
    html = client_for(member).get(reverse("boards:drawer", args=[task.pk])).content.decode()
    assert text_of(html, testid="drawer-state") == "Assigned"
    history = text_of(html, testid="drawer-history")
    assert history.endswith(f"{lead.display_name} assign: To do → Assigned yours")
    assert values_of(html, "value", name="action") == ["unassign", "start", "hold"]


def test_drawer_loads_the_assignment_panel(client_for, task, member):
    html = client_for(member).get(reverse("boards:drawer", args=[task.pk])).content.decode()
    assert reverse("assignment:panel", args=[task.pk]) in html


def test_comment_from_the_drawer_is_added_and_shown(client_for, task, member):
    response = htmx(
        client_for(member),
        "post",
        reverse("boards:comment", args=[task.pk]),
        {"body": "Looks good"},
    )
    assert response.status_code == 200
    comments = text_of(response, testid="drawer-comments")
    assert member.display_name in comments and comments.endswith("Looks good")
    assert text_of(response, name="body") == ""
    assert task.comments.get().author == member


def test_empty_comment_is_refused_with_a_message(client_for, task, member):
    response = htmx(
        client_for(member), "post", reverse("boards:comment", args=[task.pk]), {"body": "  "}
    )
    assert response.status_code == 422
    assert texts_of(response, class_="field-error") == ["This field is required."]
    assert not task.comments.exists()


def test_ticking_a_checklist_item_from_the_drawer(client_for, task, member):
    item = task.checklist.create(text="Split the data")
    htmx(
        client_for(member),
        "post",
        reverse("boards:tick", args=[task.pk, item.pk]),
        {"done": "1"},
    )
    item.refresh_from_db()
    assert item.done


def test_staff_outside_the_team_cannot_tick_through_the_board_service(task):
    item = task.checklist.create(text="Split the data")
    touched = task.updated_at
    with pytest.raises(Refused, match="Only team members tick checklist items") as refused:
        board_services.tick(item=item, by=UserFactory(is_staff=True), done=True)
    assert refused.value.status == HTTPStatus.FORBIDDEN
    item.refresh_from_db()
    assert not item.done
    assert Task.objects.get(pk=task.pk).updated_at == touched  # no refresh for open boards


def test_staff_outside_the_team_ticking_from_the_drawer_is_told_why(client_for, task):
    item = task.checklist.create(text="Split the data")
    response = htmx(
        client_for(UserFactory(is_staff=True)),
        "post",
        reverse("boards:tick", args=[task.pk, item.pk]),
        {"done": "1"},
    )
    assert response.status_code == 403
    assert "Only team members tick checklist items." in response.content.decode()
    item.refresh_from_db()
    assert not item.done


def test_outsider_cannot_comment_on_another_teams_task(client_for, task, outsider):
    url = reverse("boards:comment", args=[task.pk])
    assert client_for(outsider).post(url, {"body": "hi"}).status_code == 404


def test_drawer_action_answers_with_the_drawer_and_the_columns(client_for, task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    response = htmx(
        client_for(member),
        "post",
        reverse("boards:move", args=[task.pk]),
        {"action": "start", "expected_state": "assigned", "ctx": "drawer"},
    )
    html = response.content.decode()
    assert text_of(html, testid="drawer-state") == "In progress"
    assert f'id="card-{task.pk}"' in html.split('id="cell-0-in_progress"')[1].split("</ul>")[0]
    assert f'id="card-{task.pk}"' not in html.split('id="cell-0-assigned"')[1].split("</ul>")[0]


def test_saved_views_belong_to_the_person_who_saved_them(
    client_for, team, member, other_member, board_url
):
    client_for(member).post(
        reverse("boards:save_view", args=[team.slug]),
        {"name": "Late ones", "query": "assignee=me&due=overdue&junk=1"},
    )
    saved = SavedView.objects.get()
    assert (saved.owner, saved.query) == (member, "assignee=me&due=overdue")
    assert "Late ones" in client_for(member).get(board_url).content.decode()
    assert "Late ones" not in client_for(other_member).get(board_url).content.decode()


def test_nobody_deletes_someone_elses_saved_view(client_for, team, member, other_member):
    saved = SavedView.objects.create(owner=member, team=team, name="Mine", query="")
    url = reverse("boards:delete_view", args=[team.slug, saved.pk])
    assert client_for(other_member).post(url).status_code == 404
    assert SavedView.objects.filter(pk=saved.pk).exists()
