import pytest
from django.urls import reverse
from django_fsm_log.models import StateLog

from apps.tasks import services
from apps.tasks.models import State, Task

from ..html import text_of
from .conftest import htmx

pytestmark = pytest.mark.django_db


def test_my_work_lists_my_active_tasks_soonest_due_first(client_for, make_task, member, lead):
    from datetime import timedelta

    from django.utils import timezone

    later = make_task(title="Later", due_at=timezone.now() + timedelta(days=5))
    sooner = make_task(title="Sooner", due_at=timezone.now() + timedelta(days=1))
    make_task(title="Not mine")
    for task in (later, sooner):
        services.assign_to(task=task, assignee=member, by=lead)
    html = client_for(member).get(reverse("boards:my_work")).content.decode()
    assert html.index("Sooner") < html.index("Later")
    assert "Not mine" not in html


def test_review_queue_offers_others_work_not_my_own(client_for, in_review, member, reviewer):
    url = reverse("boards:reviews")
    assert in_review.title in client_for(reviewer).get(url).content.decode()
    assert in_review.title not in client_for(member).get(url).content.decode()


def test_review_queue_skips_work_named_to_another_reviewer(
    client_for, in_review, reviewer, make_member
):
    from apps.people.models import Role

    other = make_member(Role.REVIEWER, username="rex")
    Task.objects.filter(pk=in_review.pk).update(reviewer=other)
    assert (
        in_review.title not in client_for(reviewer).get(reverse("boards:reviews")).content.decode()
    )


def test_header_counts_my_work_and_reviews(client_for, in_review, reviewer, member, board_url):
    url = reverse("boards:work_links")
    assert 'data-testid="review-count" aria-label="1 waiting">1<' in (
        client_for(reviewer).get(url).content.decode()
    )
    assert 'data-testid="my-work-count" aria-label="1 active">1<' in (
        client_for(member).get(url).content.decode()
    )
    assert 'hx-get="' + url in client_for(member).get(board_url).content.decode()


def test_approving_from_the_review_queue_with_a_note(client_for, in_review, reviewer):
    response = htmx(
        client_for(reviewer),
        "post",
        reverse("boards:move", args=[in_review.pk]),
        {"action": "approve", "note": "solid", "ctx": "reviews", "expected_state": "in_review"},
    )
    assert response.status_code == 200
    row = text_of(response, id=f"row-{in_review.pk}")
    assert row == "✓ Evaluate churn model — Done (approved)"
    in_review.refresh_from_db()
    assert in_review.state == State.DONE
    assert StateLog.objects.for_(in_review).latest("id").description == "solid"


def test_author_approving_from_the_queue_is_refused(client_for, in_review, member):
    response = htmx(
        client_for(member),
        "post",
        reverse("boards:move", args=[in_review.pk]),
        {"action": "approve", "ctx": "reviews", "expected_state": "in_review"},
    )
    assert response.status_code == 403
    assert "other than the assignee" in response.content.decode()


def test_completing_from_my_work_with_an_outcome(client_for, make_task, member, lead):
    task = make_task(title="Quick fix")
    services.assign_to(task=task, assignee=member, by=lead)
    services.start(task=task, by=member)
    client = client_for(member)
    assert 'name="outcome"' in client.get(reverse("boards:my_work")).content.decode()
    htmx(
        client,
        "post",
        reverse("boards:move", args=[task.pk]),
        {"action": "complete", "outcome": "passed", "ctx": "mywork"},
    )
    task.refresh_from_db()
    assert (task.state, task.outcome) == (State.DONE, "passed")


def test_queue_rows_do_not_offer_hold_or_cancel(client_for, make_task, member, lead):
    task = make_task(title="Keep going")
    services.assign_to(task=task, assignee=member, by=lead)
    html = client_for(member).get(reverse("boards:my_work")).content.decode()
    assert 'value="start"' in html
    assert 'value="hold"' not in html and 'value="cancel"' not in html


@pytest.mark.parametrize("count", [1, 10])
def test_queue_pages_query_count_is_constant(
    count, client_for, make_task, make_member, lead, django_assert_max_num_queries
):
    from apps.people.models import Role

    worker = make_member(username="wendy", capacity=count)
    checker = make_member(Role.REVIEWER, username="rex")
    for n in range(count):
        task = make_task(title=f"Task {n}", requires_review=n % 2 == 0, checklist=["a", "b"])
        task.comments.create(author=lead, body="hi")
        services.assign_to(task=task, assignee=worker, by=lead)
        services.start(task=task, by=worker)
        if n % 2 == 0:
            services.submit(task=task, by=worker)
    for user, url, rows in [
        (worker, reverse("boards:my_work"), count),
        (checker, reverse("boards:reviews"), (count + 1) // 2),
    ]:
        client = client_for(user)
        # Session, user, the tasks with their cards' counts, the viewer's roles, the nav's
        # teams, the unread count.
        with django_assert_max_num_queries(6):
            html = client.get(url).content.decode()
        assert html.count('class="card-item queue-card') == rows


def test_reviewer_and_author_each_see_their_own_actions_on_the_queues(
    client_for, in_review, member, reviewer
):
    from ..html import values_of

    client = client_for(reviewer)
    reviews = client.get(reverse("boards:reviews"))
    assert set(values_of(reviews, "value", name="action")) >= {"approve", "request_changes"}
    # The author's My work, served right after from the same process, offers no decision.
    mine = client_for(member).get(reverse("boards:my_work"))
    assert in_review.title in mine.content.decode()
    assert not {"approve", "reject", "request_changes"} & set(
        values_of(mine, "value", name="action")
    )
    assert "Waiting for a reviewer" in mine.content.decode()
