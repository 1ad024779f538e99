from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from apps.assignment import selectors as assignment_selectors
from apps.boards import services as board_services
from apps.core.refusals import Refused
from apps.tasks import services
from apps.tasks.models import State, Task, WipLimits

from ..factories import UserFactory
from ..html import text_of, texts_of
from .conftest import htmx, move_url

pytestmark = pytest.mark.django_db


def drop(client, task, src, dst, **extra):
    return htmx(client, "post", move_url(task), {"from_state": src, "to": dst, **extra})


def test_lead_dropping_into_assigned_lets_the_engine_pick(client_for, task, lead, member):
    response = drop(client_for(lead), task, "todo", "assigned")
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.state == State.ASSIGNED
    assert task.assignee is not None
    assert "Assigned “Train churn model” to" in response.content.decode()


def test_member_dropping_into_assigned_takes_the_task_themselves(client_for, task, member):
    drop(client_for(member), task, "todo", "assigned")
    task.refresh_from_db()
    assert task.assignee == member


def test_lead_drop_refused_when_nobody_fits(client_for, make_task, lead, team):
    from tests.factories import SkillFactory

    task = make_task(required_skill=SkillFactory(slug="quantum"), min_level=5)
    response = drop(client_for(lead), task, "todo", "assigned")
    assert response.status_code == 409
    assert "Nobody on the team can take this now" in response.content.decode()
    task.refresh_from_db()
    assert task.state == State.TODO
    # The engine's verdict is kept, not rolled back with the refusal: the task waits.
    assert assignment_selectors.waiting(task=task) is not None


def test_drop_answers_with_only_the_two_affected_columns(client_for, task, member):
    html = drop(client_for(member), task, "todo", "assigned").content.decode()
    assert 'id="cell-0-todo"' in html and 'id="cell-0-assigned"' in html
    assert 'id="cell-0-in_progress"' not in html
    assert 'id="head-assigned"' in html and 'hx-swap-oob="true"' in html


def test_assignee_drags_through_start_and_submit(client_for, make_task, member, lead):
    task = make_task(requires_review=True)
    services.assign_to(task=task, assignee=member, by=lead)
    client = client_for(member)
    assert drop(client, task, "assigned", "in_progress").status_code == 200
    assert drop(client, task, "in_progress", "in_review").status_code == 200
    task.refresh_from_db()
    assert task.state == State.IN_REVIEW


def test_author_cannot_approve_own_work_by_dragging(client_for, in_review, member):
    response = drop(client_for(member), in_review, "in_review", "done")
    assert response.status_code == 403
    assert "other than the assignee" in response.content.decode()
    in_review.refresh_from_db()
    assert in_review.state == State.IN_REVIEW


def test_reviewer_approves_by_dropping_on_done(client_for, in_review, reviewer):
    drop(client_for(reviewer), in_review, "in_review", "done")
    in_review.refresh_from_db()
    assert (in_review.state, in_review.outcome) == (State.DONE, "approved")


def test_reviewer_requests_changes_by_dropping_back_on_in_progress(client_for, in_review, reviewer):
    drop(client_for(reviewer), in_review, "in_review", "in_progress")
    in_review.refresh_from_db()
    assert (in_review.state, in_review.outcome) == (State.IN_PROGRESS, "changes_requested")


def test_drop_skipping_a_step_is_refused_with_the_reason(client_for, task, lead):
    response = drop(client_for(lead), task, "todo", "done")
    assert response.status_code == 409
    assert "can&#x27;t go from To do straight to Done" in response.content.decode()


def test_drop_from_a_stale_column_is_refused(client_for, task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead)  # someone else got there first
    response = drop(client_for(member), task, "todo", "assigned")
    assert response.status_code == 409
    assert "Someone else changed this task first" in response.content.decode()


def test_refused_drop_re_renders_the_card_where_it_really_is(client_for, task, member):
    html = drop(client_for(member), task, "todo", "in_review").content.decode()
    todo_cell = html.split('id="cell-0-todo"')[1].split("</ul>")[0]
    assert f'id="card-{task.pk}"' in todo_cell


def _limit(team, soft=False, **limits):
    WipLimits.objects.create(team=team, limits=limits, soft=soft)


def _one_started_one_waiting(make_task, member, lead):
    """Two tasks assigned to `member`, the first started: the second waits to start."""
    first, second = make_task(title="One"), make_task(title="Two")
    for task in (first, second):
        services.assign_to(task=task, assignee=member, by=lead)
    services.start(task=first, by=member)
    return second


def test_hard_wip_limit_refuses_a_move_into_a_full_column(
    client_for, team, make_task, member, lead
):
    _limit(team, in_progress=1)
    second = _one_started_one_waiting(make_task, member, lead)
    response = drop(client_for(member), second, "assigned", "in_progress")
    assert response.status_code == 409
    assert "In progress is full (1/1" in response.content.decode()
    second.refresh_from_db()
    assert second.state == State.ASSIGNED


def test_soft_wip_limit_warns_and_accepts(client_for, team, make_task, member, lead):
    _limit(team, soft=True, in_progress=1)
    second = _one_started_one_waiting(make_task, member, lead)
    response = drop(client_for(member), second, "assigned", "in_progress")
    assert response.status_code == 200
    assert "over its WIP limit (2/1)" in response.content.decode()
    second.refresh_from_db()
    assert second.state == State.IN_PROGRESS


def test_column_header_shows_count_against_limit(client_for, team, board_url, make_task, member):
    _limit(team, assigned=4)
    html = client_for(member).get(board_url).content.decode()
    assert text_of(html, testid="count-assigned") == "0/4"
    assert text_of(html, testid="count-todo") == "0"  # no limit: just the count


def test_order_within_a_column_persists(client_for, team, make_task, member):
    a, b, c = (make_task(title=t) for t in "abc")
    response = htmx(
        client_for(member),
        "post",
        move_url(b),
        {"action": "reorder", "order": f"{c.pk},{a.pk},{b.pk}"},
    )
    assert response.status_code == 200
    ordered = list(
        Task.objects.filter(team=team, state=State.TODO).order_by("position", "-priority", "id")
    )
    assert [t.title for t in ordered] == ["c", "a", "b"]


def test_reordering_the_top_keeps_hidden_cards_below(team, make_task):
    tasks = [make_task(title=f"t{i}") for i in range(5)]
    board_services.reorder(team=team, state=State.TODO, ordered_ids=[tasks[1].pk, tasks[0].pk])
    ordered = Task.objects.filter(team=team).order_by("position", "-priority", "id")
    assert [t.title for t in ordered] == ["t1", "t0", "t2", "t3", "t4"]


def test_menu_action_moves_the_card(client_for, task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    htmx(
        client_for(member),
        "post",
        move_url(task),
        {"action": "start", "expected_state": "assigned"},
    )
    task.refresh_from_db()
    assert task.state == State.IN_PROGRESS


def test_card_menu_lists_only_moves_the_viewer_may_make(client_for, in_review, member, reviewer):
    url = reverse("boards:card_menu", args=[in_review.pk])
    authors_moves = texts_of(client_for(member).get(url), role="menuitem")
    assert authors_moves == ["Put on hold → On hold"]
    assert texts_of(client_for(reviewer).get(url), role="menuitem") == [
        "Approve → Done",
        "Request changes → In progress",
        "Reject → Done",
    ]


def test_move_refuses_get(client_for, task, lead):
    assert client_for(lead).get(move_url(task)).status_code == 405


def test_move_refuses_a_post_without_csrf_token(task, lead):
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    response = client.post(move_url(task), {"from_state": "todo", "to": "assigned"})
    assert response.status_code == 403
    task.refresh_from_db()
    assert task.state == State.TODO


def test_comment_and_tick_refuse_get_and_missing_csrf(task, lead):
    item = task.checklist.create(text="check")
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    for url in (
        reverse("boards:comment", args=[task.pk]),
        reverse("boards:tick", args=[task.pk, item.pk]),
    ):
        assert client.get(url).status_code == 405
        assert client.post(url, {"body": "x", "done": "1"}).status_code == 403


def test_other_teams_card_cannot_be_moved(client_for, task, outsider):
    response = drop(client_for(outsider), task, "todo", "assigned")
    assert response.status_code == 404
    task.refresh_from_db()
    assert task.state == State.TODO


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")


@pytest.mark.django_db(transaction=True)
def test_move_costs_at_most_nine_queries_whatever_the_column_size(
    client_for, make_task, member, lead, django_assert_max_num_queries
):
    """Outside a test transaction, as in production. Besides the nine data queries the log shows
    the move's transaction and the transition's savepoint (BEGIN, SAVEPOINT, RELEASE, COMMIT)."""
    tasks = [make_task(title=f"t{i}") for i in range(60)]
    services.assign_to(task=tasks[0], assignee=member, by=lead)
    client = client_for(member)
    with django_assert_max_num_queries(13) as captured:
        response = drop(client, tasks[0], "assigned", "in_progress", order=str(tasks[0].pk))
    assert response.status_code == 200
    data = [q for q in captured.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)]
    assert len(data) <= 9


def test_only_a_lead_sets_wip_limits(client_for, team, member, lead):
    url = reverse("boards:wip_settings", args=[team.slug])
    assert client_for(member).get(url).status_code == 403
    response = client_for(lead).post(url, {"limit_in_progress": "3", "soft": "on"})
    assert response.status_code == 302
    settings = WipLimits.objects.get(team=team)
    assert settings.limits == {"in_progress": 3} and settings.soft


def test_a_member_setting_wip_limits_through_the_service_is_refused(team, member):
    with pytest.raises(Refused, match="Only a team lead can change WIP limits") as refused:
        board_services.save_wip_limits(team=team, by=member, limits={"in_progress": 1}, soft=False)
    assert refused.value.status == HTTPStatus.FORBIDDEN
    assert not WipLimits.objects.filter(team=team).exists()


def test_staff_set_wip_limits_of_any_team(team):
    board_services.save_wip_limits(
        team=team, by=UserFactory(is_staff=True), limits={"in_review": 2}, soft=False
    )
    assert WipLimits.objects.get(team=team).limits == {"in_review": 2}


def test_the_wip_settings_page_tells_a_member_why_not_and_offers_no_form(client_for, team, member):
    response = client_for(member).get(reverse("boards:wip_settings", args=[team.slug]))
    assert response.status_code == 403
    body = response.content.decode()
    assert "Only a team lead can change WIP limits." in body
    assert 'name="limit_in_progress"' not in body


def test_a_member_posting_wip_limits_is_refused_with_the_reason(client_for, team, member):
    url = reverse("boards:wip_settings", args=[team.slug])
    response = client_for(member).post(url, {"limit_in_progress": "1"})
    assert response.status_code == 403
    assert "Only a team lead can change WIP limits." in response.content.decode()
    assert not WipLimits.objects.filter(team=team).exists()


def test_the_board_links_wip_settings_for_leads_only(client_for, board_url, team, member, lead):
    link = reverse("boards:wip_settings", args=[team.slug])
    assert link in client_for(lead).get(board_url).content.decode()
    assert link not in client_for(member).get(board_url).content.decode()


def test_dropping_on_hold_and_back_resumes_where_it_was(client_for, task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    client = client_for(member)
    drop(client, task, "assigned", "on_hold")
    task.refresh_from_db()
    assert task.state == State.ON_HOLD
    refused = drop(client, task, "on_hold", "in_progress")
    assert refused.status_code == 409
    assert "put on hold from Assigned" in refused.content.decode()
    drop(client, task, "on_hold", "assigned")
    task.refresh_from_db()
    assert task.state == State.ASSIGNED


def test_dropping_on_cancelled_cancels_for_a_lead(client_for, task, lead):
    drop(client_for(lead), task, "todo", "cancelled")
    task.refresh_from_db()
    assert task.state == State.CANCELLED


def test_drop_on_a_board_with_swimlanes_re_renders_the_whole_board(client_for, task, member):
    response = htmx(
        client_for(member),
        "post",
        move_url(task),
        {"from_state": "todo", "to": "assigned"},
        current_url="http://testserver/teams/data-science/board/?lane=assignee",
    )
    html = response.content.decode()
    assert '<div id="board-body"' in html and 'hx-swap-oob="true"' in html
    assert f'id="cell-{member.pk}-assigned"' in html  # the new lane is there


def test_cards_dropped_one_after_another_on_top_stay_above_the_rest_in_order(team, make_task):
    tasks = [make_task(title=f"t{i}", position=i) for i in range(4)]
    for dropped in (tasks[3], tasks[2], tasks[1], tasks[0], tasks[3]):
        board_services.reorder(team=team, state=State.TODO, ordered_ids=[dropped.pk])
    ordered = Task.objects.filter(team=team).order_by("position", "-priority", "id")
    assert [t.title for t in ordered] == ["t3", "t0", "t1", "t2"]


def test_reorder_ignores_cards_of_another_column(team, make_task):
    todo = make_task(title="todo", position=5)
    other = make_task(title="elsewhere", state=State.ASSIGNED, position=7)
    board_services.reorder(team=team, state=State.TODO, ordered_ids=[other.pk, todo.pk])
    other.refresh_from_db()
    assert other.position == 7
