"""Search across the teams a person can see: what it finds, in which order, with which
snippet, and at what cost. Every test runs on SQLite (the fallback) and on PostgreSQL (full-text
search) alike: the same figures hold on both (DATABASE_URL=postgres://… runs them there); the
ones marked postgres check what only PostgreSQL does."""

import pytest
from django.db import connection
from django.urls import reverse

from apps.people.models import Role
from apps.tasks import search, services

from ..factories import MembershipFactory, TeamFactory


def found(user, text):
    return [task.title for task in search.search_tasks(user=user, text=text)]


def test_a_word_in_a_comment_finds_the_task(make_task, member, lead):
    task = make_task(title="Evaluate churn model", description="Compare with last quarter.")
    make_task(title="Unrelated work")
    services.add_comment(task=task, author=lead, body="The gradient exploded at epoch twelve.")

    assert found(member, "gradient") == ["Evaluate churn model"]


def test_a_title_hit_ranks_above_a_description_hit_above_a_comment_hit(make_task, member, lead):
    in_comment = make_task(title="Write the report")
    services.add_comment(task=in_comment, author=lead, body="Needs the latency figures.")
    make_task(title="Benchmark serving", description="Measure latency under load.")
    make_task(title="Latency dashboard")

    assert found(member, "latency") == [
        "Latency dashboard",
        "Benchmark serving",
        "Write the report",
    ]


def test_every_word_must_be_in_the_task_or_in_one_comment(make_task, member, lead):
    own = make_task(title="Deploy model", description="to staging")
    make_task(title="Deploy website")
    services.add_comment(task=own, author=lead, body="after the review")
    discussed = make_task(title="Plan the quarter")
    services.add_comment(task=discussed, author=lead, body="Deploy once staging is green.")

    assert found(member, "deploy staging") == ["Deploy model", "Plan the quarter"]
    # "deploy" in the title and "review" in a comment: two documents, no match.
    assert found(member, "deploy review") == []


def test_another_teams_task_is_never_found(make_task, member, outsider):
    elsewhere = outsider.memberships.get().team
    make_task(title="Secret roadmap", team=elsewhere)
    make_task(title="Public roadmap")

    assert found(member, "roadmap") == ["Public roadmap"]
    assert found(outsider, "roadmap") == ["Secret roadmap"]


def test_search_covers_every_team_the_person_belongs_to(make_task, member):
    second = TeamFactory(name="Platform", slug="platform")
    MembershipFactory(team=second, user=member, role=Role.MEMBER)
    make_task(title="Rotate keys", team=second)
    make_task(title="Rotate logs")

    assert sorted(found(member, "rotate")) == ["Rotate keys", "Rotate logs"]


def test_an_empty_query_finds_nothing(make_task, member):
    make_task(title="Anything")
    assert found(member, "   ") == []
    assert found(member, '"') == []


def test_the_snippet_marks_the_hit_and_escapes_the_rest(make_task, member, lead):
    task = make_task(title="Fix <b>bold</b> titles", description="")
    services.add_comment(task=task, author=lead, body="The <script>alert(1)</script> payload")

    [hit] = search.hits(search.search_tasks(user=member, text="payload"), "payload")

    assert hit.source == "comment"
    assert "<mark>payload</mark>" in hit.snippet
    # Escaped on SQLite; PostgreSQL's ts_headline drops the tags altogether.
    assert "<script>" not in hit.snippet and "alert(1)" in hit.snippet
    assert "<b>" not in hit.title and "&lt;b&gt;" in hit.title


def test_the_snippet_quotes_the_description_when_it_matches(make_task, member):
    make_task(title="Quarterly", description="Collect the invoices from every region first.")

    [hit] = search.hits(search.search_tasks(user=member, text="invoices"), "invoices")

    assert hit.source == "description"
    assert "<mark>invoices</mark>" in hit.snippet


def test_a_page_of_results_costs_the_same_queries_however_many_match(
    make_task, member, lead, client_for, django_assert_num_queries
):
    for n in range(30):
        task = make_task(title=f"Migration {n}")
        services.add_comment(task=task, author=lead, body="migration notes")
    client = client_for(member)
    client.get(reverse("tasks:search"), {"q": "migration"})  # warm the session and content types

    # session, user, the header's unread badge, then the count and the page of results.
    with django_assert_num_queries(QUERIES_FOR_RESULTS_PAGE) as context:
        response = client.get(reverse("tasks:search"), {"q": "migration"})
    assert response.status_code == 200
    assert response.content.count(b'class="search-hit"') == 20
    search_queries = [q for q in context.captured_queries if "migration" in q["sql"].lower()]
    assert len(search_queries) == 2  # the count and the page


QUERIES_FOR_RESULTS_PAGE = 5


def test_the_quick_open_box_answers_with_the_best_eight(make_task, member, client_for):
    for n in range(10):
        make_task(title=f"Retrain model {n}")

    response = client_for(member).get(reverse("tasks:quick_open"), {"q": "retrain"})

    assert response.content.count(b'class="quick-hit"') == 8
    assert b"All results for" in response.content


def test_a_too_long_query_is_refused_with_a_sentence(member, client_for):
    response = client_for(member).get(reverse("tasks:search"), {"q": "x" * 101})

    assert response.status_code == 200
    assert b"Search for at most 100 characters." in response.content
    assert b'data-testid="search-results"' not in response.content


def test_the_results_page_is_paginated(make_task, member, client_for):
    for n in range(25):
        make_task(title=f"Label batch {n}")

    response = client_for(member).get(reverse("tasks:search"), {"q": "label", "page": "2"})

    assert response.content.count(b'class="search-hit"') == 5
    assert b"Page 2 of 2" in response.content


@pytest.mark.postgres
def test_postgres_finds_a_stemmed_word_and_takes_websearch_syntax(make_task, member, lead):
    task = make_task(title="Deploying the model", description="blue green rollout")
    make_task(title="Deploy the docs", description="green field")
    services.add_comment(task=task, author=lead, body="Rollbacks were rehearsed.")

    assert sorted(found(member, "deploys")) == ["Deploy the docs", "Deploying the model"]
    assert found(member, "deploy -docs") == ["Deploying the model"]
    assert found(member, "rollback") == ["Deploying the model"]
    assert found(member, '"green rollout"') == ["Deploying the model"]


@pytest.mark.postgres
def test_postgres_uses_the_gin_indexes(make_task, member):
    make_task(title="Anything")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            tasks = search.search_tasks(user=member, text="anything")
            plan = tasks.explain()
        finally:
            cursor.execute("SET enable_seqscan = on")

    assert "task_search_idx" in plan
    assert "comment_search_idx" in plan
