"""The unchanged poll (304) must turn into the board at once after any change a person would
see on it: through every service that changes a task, the WIP settings, and the viewer's own
header counts (which tasks of other teams move too). And its one query is reused SQL
(apps.core.reusable_sql), so a staff member and a member never share an answer shape."""

import pytest
from django.urls import reverse

from apps.boards import selectors
from apps.boards import services as board_services
from apps.core.reusable_sql import STAND_IN_ID, STAND_IN_TEXT, ReusableQuery
from apps.people.models import Role, Team
from apps.tasks import edits, services
from apps.tasks.models import State

from ..factories import PASSWORD, MembershipFactory, TeamFactory, UserFactory
from ..html import text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def poll_url(team):
    return reverse("boards:poll", args=[team.slug])


def _etag(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return response["ETag"]


CHANGES = {
    "assign": lambda task, member, lead: services.assign_to(task=task, assignee=member, by=lead),
    "edit": lambda task, member, lead: edits.edit_task(
        task=task, by=lead, version=edits.version_of(task), title="Renamed"
    ),
    "comment": lambda task, member, lead: services.add_comment(
        task=task, author=lead, body="Looks good"
    ),
    "checklist tick": lambda task, member, lead: board_services.tick(
        item=task.checklist.get(), by=lead, done=True
    ),
    "reorder": lambda task, member, lead: board_services.reorder(
        team=task.team, state=State.TODO, ordered_ids=[task.pk]
    ),
    "WIP limits": lambda task, member, lead: board_services.save_wip_limits(
        team=task.team, by=lead, limits={State.IN_PROGRESS: 3}, soft=False
    ),
}


@pytest.mark.parametrize("change", CHANGES)
def test_poll_is_no_longer_304_after_a_change(
    change, client_for, poll_url, make_task, member, lead
):
    task = make_task(title="Train churn model")
    task.checklist.create(text="Split the data")
    make_task(title="Another, above it")  # so that a reorder moves something
    client = client_for(member)
    etag = _etag(client, poll_url)
    assert client.get(poll_url, headers={"If-None-Match": etag}).status_code == 304
    task.refresh_from_db()
    CHANGES[change](task, member, lead)
    response = client.get(poll_url, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response["ETag"] != etag
    assert client.get(poll_url, headers={"If-None-Match": response["ETag"]}).status_code == 304


def test_a_transition_refreshes_the_poll(client_for, poll_url, task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    client = client_for(member)
    etag = _etag(client, poll_url)
    task.refresh_from_db()
    services.perform(task=task, action="start", by=member)
    assert client.get(poll_url, headers={"If-None-Match": etag}).status_code == 200


def test_work_of_another_team_refreshes_the_viewers_counts(client_for, poll_url, member):
    """Nothing on this board changed, but the header's My work count did."""
    elsewhere = TeamFactory(name="Platform", slug="platform")
    their_lead = UserFactory(username="lin")
    MembershipFactory(team=elsewhere, user=their_lead, role=Role.LEAD)
    MembershipFactory(team=elsewhere, user=member, role=Role.MEMBER)
    other = services.create_task(team=elsewhere, title="Patch the cluster", by=their_lead)
    client = client_for(member)
    etag = _etag(client, poll_url)
    services.assign_to(task=other, assignee=member, by=their_lead)
    response = client.get(poll_url, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert text_of(response.content.decode(), testid="my-work-count") == "1"


def test_a_review_elsewhere_refreshes_the_reviewers_counts(client_for, poll_url, reviewer):
    elsewhere = TeamFactory(name="Platform", slug="platform")
    their_lead, worker = UserFactory(username="lin"), UserFactory(username="wes")
    MembershipFactory(team=elsewhere, user=their_lead, role=Role.LEAD)
    MembershipFactory(team=elsewhere, user=worker, role=Role.MEMBER)
    MembershipFactory(team=elsewhere, user=reviewer, role=Role.REVIEWER)
    work = services.create_task(
        team=elsewhere, title="Patch the cluster", by=their_lead, requires_review=True
    )
    services.assign_to(task=work, assignee=worker, by=their_lead)
    services.start(task=work, by=worker)
    client = client_for(reviewer)
    etag = _etag(client, poll_url)
    services.submit(task=work, by=worker)
    assert client.get(poll_url, headers={"If-None-Match": etag}).status_code == 200


def test_the_poll_version_is_the_boards_own(member, lead, task):
    """The raw poll query and the ORM's team read make the same fingerprint (the board page
    hands the poll its ETag; a mismatch would re-send the whole board on the first poll)."""
    for viewer in (member, lead):
        team = selectors.team_with_version(user=viewer, team_slug=task.team.slug)
        fast = selectors.board_version(user=viewer, team_slug=task.team.slug)
        assert fast == selectors.version_of(team)


def test_staff_polls_any_team_and_others_get_a_404(client, poll_url, task, outsider):
    staff = UserFactory(username="sam", is_staff=True)
    client.force_login(staff)
    assert client.get(poll_url).status_code == 200
    client.force_login(outsider)
    assert client.get(poll_url).status_code == 404
    assert selectors.board_version(user=outsider, team_slug=task.team.slug) is None


def test_a_logged_out_session_is_refused_at_once(client, poll_url, task, member):
    assert client.login(username=member.username, password=PASSWORD)
    cookie = client.cookies["sessionid"].value
    etag = _etag(client, poll_url)
    client.post(reverse("logout"))
    client.cookies["sessionid"] = cookie  # the old cookie, replayed
    response = client.get(poll_url, headers={"If-None-Match": etag})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_password_change_ends_other_sessions_at_once(client, poll_url, task, member):
    assert client.login(username=member.username, password=PASSWORD)
    etag = _etag(client, poll_url)
    member.set_password("another-long-pass-9")
    member.save()
    response = client.get(poll_url, headers={"If-None-Match": etag})
    assert response.status_code == 302


def test_header_counts_and_nav_cost_no_query_per_page(
    client_for, member, task, django_assert_max_num_queries
):
    """Session + user + the page's own reads: the header (nav, counts, unread badge) adds
    none of its own to My work: its counts arrive in a request of their own."""
    client = client_for(member)
    client.get(reverse("boards:my_work"))
    with django_assert_max_num_queries(6):
        assert client.get(reverse("boards:my_work")).status_code == 200
    with django_assert_max_num_queries(4):  # session, user, both counts, the unread count
        assert client.get(reverse("boards:work_links")).status_code == 200


def test_a_reusable_query_refuses_a_value_folded_into_its_sql():
    folded = ReusableQuery(
        lambda slug: Team.objects.extra(where=[f"slug = '{slug}'"]).values_list("pk"),
        slug=STAND_IN_TEXT,
    )
    with pytest.raises(ValueError, match="not reusable"):
        folded.rows(slug="data-science")


def test_a_reusable_query_answers_with_the_values_given(team, outsider):
    query = ReusableQuery(
        lambda pk, slug: Team.objects.filter(pk=pk, slug=slug).values_list("name"),
        pk=STAND_IN_ID,
        slug=STAND_IN_TEXT,
    )
    assert list(query.rows(pk=team.pk, slug=team.slug)) == [("Data Science",)]
    assert list(query.rows(pk=team.pk, slug="elsewhere")) == []
