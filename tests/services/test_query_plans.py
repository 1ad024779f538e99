"""The busiest pages read PostgreSQL through indexes, never whole big tables.

A few thousand tasks in forty teams (bench/scale_data.py, the shape bench/scale.py builds at a
million), analyzed, so the planner chooses as it would in production: the largest team is a
small part of the table, most tasks are closed, each has its transitions, comments and
notifications. Every statement of each request is EXPLAINed; a sequential scan of a table
above ABOVE rows fails the test with the statement that made it.
"""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.core.plans import plan_of, seq_scans, table_sizes
from apps.people.models import User
from apps.tasks import services
from apps.tasks.models import State, Task
from bench import scale_data

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

SHAPE = scale_data.Shape(
    tasks=8_000,
    teams=40,
    big_total=1_000,
    big_open=300,
    big_people=15,
    people_per_team=5,
    run_teams=10,
    runs_per_team=40,
    log_per_task=4,
    focus_tasks=12,
)
# Tables above this many rows (tasks, their log, comments, checklists, notifications) are the
# ones that grow with use; people and teams stay small and may be read whole.
ABOVE = 2_000


@pytest.fixture
def data_set():
    built = scale_data.build(SHAPE, tag="plans")
    scale_data.analyze()
    return built


def _queries(call) -> list[dict]:
    with CaptureQueriesContext(connection) as captured:
        call()
    return captured.captured_queries


def _client(pk: int) -> Client:
    client = Client()
    client.force_login(User.objects.get(pk=pk))
    return client


def _assert_indexed(queries):
    scans = seq_scans(queries, sizes=table_sizes(), above=ABOVE)
    assert not scans, "\n".join(map(str, scans))


def test_board_of_the_largest_team_reads_only_its_cards(data_set):
    board = reverse("boards:board", args=[data_set.big_team_slug])
    queries = _queries(lambda: _client(data_set.lead_id).get(board))
    _assert_indexed(queries)


def test_unchanged_poll_reads_the_fingerprint_through_indexes(data_set):
    client = _client(data_set.lead_id)
    poll = reverse("boards:poll", args=[data_set.big_team_slug])
    etag = client.get(poll)["ETag"]
    queries = _queries(lambda: client.get(poll, headers={"If-None-Match": etag}))
    _assert_indexed(queries)


def test_my_work_and_the_review_queue_read_through_indexes(data_set):
    queries = _queries(lambda: _client(data_set.focus_id).get(reverse("boards:my_work")))
    queries += _queries(lambda: _client(data_set.reviewer_id).get(reverse("boards:reviews")))
    _assert_indexed(queries)


def test_header_counts_read_only_the_viewers_tasks(data_set):
    queries = _queries(lambda: _client(data_set.reviewer_id).get(reverse("boards:work_links")))
    _assert_indexed(queries)


def test_a_transition_and_a_card_move_read_through_indexes(data_set):
    assigned = list(
        Task.objects.filter(team_id=data_set.big_team_id, state=State.ASSIGNED)
        .exclude(assignee_id=data_set.focus_id)
        .select_related("assignee")
        .order_by("id")[:2]
    )
    first, second = assigned
    queries = _queries(
        lambda: services.perform_retrying(
            task=first, action="start", by=first.assignee, expected_state=State.ASSIGNED
        )
    )
    board = reverse("boards:board", args=[data_set.big_team_slug])
    move = reverse("boards:move", args=[second.pk])
    queries += _queries(
        lambda: _client(data_set.lead_id).post(
            move,
            {"from_state": "assigned", "to": "in_progress", "order": str(second.pk)},
            headers={"HX-Request": "true", "HX-Current-URL": "http://testserver" + board},
        )
    )
    assert Task.objects.get(pk=second.pk).state == State.IN_PROGRESS
    _assert_indexed(queries)


def _task_index_ranges(queries) -> list[str]:
    """The Index Cond of every index range these queries read on the tasks table."""
    conditions = []
    for query in queries:
        stack = (
            [plan_of(query["sql"])] if query["sql"].lstrip().upper().startswith("SELECT") else []
        )
        while stack:
            node = stack.pop()
            stack.extend(node.get("Plans", ()))
            if node.get("Index Name", "").startswith("task") and "Index Cond" in node:
                conditions.append(node["Index Cond"])
    return conditions


def test_the_review_count_reads_only_the_viewers_teams_tasks_in_review(data_set):
    """A reviewer's count of work awaiting review (the header's badge) narrows every index
    range to a person or the viewer's teams: never every team's tasks in review. (The
    unchanged poll reads no task at all: the version counters answer it.)"""
    client = _client(data_set.reviewer_id)
    ranges = _task_index_ranges(_queries(lambda: client.get(reverse("boards:work_links"))))
    assert ranges
    narrowed_by = ("team_id", "assignee_id", "reviewer_id", "(id = ")  # "(id = …)": one row
    wide = [c for c in ranges if not any(k in c for k in narrowed_by)]
    assert not wide, wide
    poll = reverse("boards:poll", args=[data_set.big_team_slug])
    etag = client.get(poll)["ETag"]
    unchanged = _queries(lambda: client.get(poll, headers={"If-None-Match": etag}))
    assert not _task_index_ranges(unchanged)
