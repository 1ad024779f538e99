"""Tasks and runs through the API: the board's filters, a cursor that walks every task once,
the pages' sentences for refusals, and query counts that do not grow with the team."""

import pytest

from apps.api.testing import personal_token_for_tests
from apps.tasks import services
from apps.tasks.models import Task
from apps.tasks.services import STALE_MESSAGE
from apps.workflows.models import Run

T = "/teams/data-science"


@pytest.fixture
def as_member(api, member):
    return api.as_token(personal_token_for_tests(member))


def test_the_cursor_walks_every_task_once_in_pages(as_member, make_task):
    made = [make_task(title=f"Task {i}").pk for i in range(120)]
    seen, cursor, pages = [], "", 0
    while True:
        page = as_member.get(T + "/tasks", limit=50, cursor=cursor).json()
        seen += [row["id"] for row in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made
    assert pages == 3


def test_the_list_takes_the_boards_filters(as_member, make_task, member, lead):
    mine = make_task(title="Train churn model")
    services.assign_to(task=mine, assignee=member, by=lead)
    make_task(title="Write the report")
    rows = as_member.get(T + "/tasks", assignee="me").json()["items"]
    assert [r["id"] for r in rows] == [mine.pk]
    rows = as_member.get(T + "/tasks", q="report").json()["items"]
    assert [r["title"] for r in rows] == ["Write the report"]
    rows = as_member.get(T + "/tasks", state="assigned").json()["items"]
    assert [r["id"] for r in rows] == [mine.pk]


def test_a_bad_filter_is_refused_naming_it(as_member, make_task):
    response = as_member.get(T + "/tasks", due="someday")
    assert response.status_code == 422
    assert response.json()["detail"].startswith("Due: Select a valid choice.")
    assert as_member.get(T + "/tasks", cursor="nonsense").status_code == 422
    assert as_member.get(T + "/tasks", q="a\x00b").status_code == 422


@pytest.mark.parametrize("count", [10, 300])
def test_a_page_of_the_list_costs_the_same_queries_however_many_tasks(
    as_member, team, lead, count, django_assert_max_num_queries
):
    Task.objects.bulk_create(
        Task(team=team, title=f"Bulk {i}", created_by=lead, position=i) for i in range(count)
    )
    as_member.get("/me")  # the automation user and the token's last use are written once
    with django_assert_max_num_queries(4):
        response = as_member.get(T + "/tasks", limit=100)
    assert len(response.json()["items"]) == min(count, 100)


def test_one_task_with_its_history_in_few_queries(
    as_member, task, member, lead, django_assert_max_num_queries
):
    services.assign_to(task=task, assignee=member, by=lead)
    services.start(task=task, by=member)
    services.add_comment(task=task, author=lead, body="Nice")
    as_member.get("/me")
    with django_assert_max_num_queries(12):
        detail = as_member.get(f"/tasks/{task.pk}").json()
    assert [h["action"] for h in detail["history"]] == ["assign", "start"]
    assert detail["comments"][0]["body"] == "Nice"
    assert "submit" in detail["actions"] or "complete" in detail["actions"]


def test_a_stale_transition_is_a_409_with_the_pages_sentence(as_member, task, member, lead):
    services.assign_to(task=task, assignee=member, by=lead)
    response = as_member.post(
        f"/tasks/{task.pk}/transitions", {"action": "start", "expected_state": "todo"}
    )
    assert response.status_code == 409
    assert response.json()["detail"] == STALE_MESSAGE % {"state": "Assigned"}
    task.refresh_from_db()
    assert task.state == "assigned"


def test_taking_a_task_and_working_it_through(as_member, task, member):
    for action, state in (("assign", "assigned"), ("start", "in_progress")):
        response = as_member.post(f"/tasks/{task.pk}/transitions", {"action": action})
        assert response.status_code == 200, response.content
        assert response.json()["state"] == state
    done = as_member.post(
        f"/tasks/{task.pk}/transitions", {"action": "complete", "outcome": "passed"}
    )
    assert done.json()["state"] == "done" and done.json()["outcome"] == "passed"


def test_an_unknown_action_is_refused_listing_the_known_ones(as_member, task):
    response = as_member.post(f"/tasks/{task.pk}/transitions", {"action": "delete"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("Unknown action 'delete': one of assign,")


def test_creating_a_task_validates_like_the_page(as_member, skills):
    blank = as_member.post(T + "/tasks", {"title": "   "})
    assert blank.status_code == 422
    assert not Task.objects.exists()
    made = as_member.post(T + "/tasks", {"title": "Tune", "required_skill": "python"})
    assert made.status_code == 201
    assert made.json()["required_skill"] == "python"
    unknown = as_member.post(T + "/tasks", {"title": "Tune", "required_skill": "cobol"})
    assert unknown.status_code == 422 and unknown.json()["detail"] == "No skill 'cobol'."


def test_a_run_starts_with_inputs_and_says_where_it_stands(as_member, ml_template, member):
    response = as_member.post(
        T + "/runs",
        {"template": "ml-deployment", "title": "churn-v4", "inputs": {"model": "churn-v4"}},
    )
    assert response.status_code == 201, response.content
    run = response.json()
    assert run["status"] == "running" and run["owner"] == member.username
    assert run["current_steps"] == ["train"]
    assert run["inputs"] == {"model": "churn-v4", "threshold": 0.9}  # the default filled in
    assert [t["state"] for t in run["tasks"]] == ["assigned"]  # auto-assigned to the trainer
    cancelled = as_member.post(f"/runs/{run['id']}/cancel", {"note": "wrong data"})
    assert cancelled.json()["status"] == "cancelled"
    again = as_member.post(f"/runs/{run['id']}/cancel", {})
    assert again.status_code == 409
    assert again.json()["detail"] == "This run is already cancelled."


def test_run_inputs_are_bounded_like_the_page(as_member, ml_template):
    deep: dict = {}
    for _ in range(40):
        deep = {"d": deep}
    response = as_member.post(
        T + "/runs", {"template": "ml-deployment", "title": "x", "inputs": deep}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("The inputs text")
    assert not Run.objects.exists()


def test_a_service_tokens_run_belongs_to_the_lead_who_made_the_token(api, team, ml_template, lead):
    from apps.api.testing import service_token_for_tests

    api.as_token(service_token_for_tests(team))
    run = api.post(T + "/runs", {"template": "ml-deployment", "title": "nightly"}).json()
    assert run["owner"] == lead.username


def test_a_template_exports_and_imports_back(api, lead, ml_template):
    api.as_token(personal_token_for_tests(lead))
    document = api.get(T + "/templates/ml-deployment/export").json()
    document["name"] = "ML model deployment (edited)"
    response = api.post(T + "/templates/import", document)
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "ML model deployment (edited)"
    broken = {**document, "steps": []}
    refused = api.post(T + "/templates/import", broken)
    assert refused.status_code == 422


@pytest.mark.parametrize("others", [0, 200])
def test_a_transition_costs_the_same_queries_however_many_tasks(
    as_member, team, lead, member, make_task, others, django_assert_max_num_queries
):
    Task.objects.bulk_create(
        Task(team=team, title=f"Bulk {i}", created_by=lead, position=i) for i in range(others)
    )
    task = make_task(title="Mine")
    services.assign_to(task=task, assignee=member, by=lead)
    as_member.get("/me")
    with django_assert_max_num_queries(15):
        response = as_member.post(
            f"/tasks/{task.pk}/transitions", {"action": "start", "expected_state": "assigned"}
        )
    assert response.json()["state"] == "in_progress"


def test_run_inputs_are_typed_as_the_workflow_declares_them(as_member, ml_template):
    response = as_member.post(
        T + "/runs", {"template": "ml-deployment", "title": "x", "inputs": {"threshold": "high"}}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "Accuracy threshold (threshold): 'high' is not a number."
    assert not Run.objects.exists()
