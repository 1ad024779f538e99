from datetime import timedelta

import pytest
from django.utils import timezone
from django_fsm_log.models import StateLog

from apps.notifications.models import EmailStatus, Kind, Notification
from apps.tasks.models import State, Task
from apps.workflows import exchange
from apps.workflows import services as workflow_services

from ..services.notification_harness import publishing_to

# One automated step, then END: a run reaches it at once.
NIGHTLY_CHECK = {
    "format": "relay.workflow/1",
    "team": "data-science",
    "slug": "nightly-check",
    "name": "Nightly check",
    "steps": [
        {
            "key": "check",
            "name": "Run the checks",
            "is_start": True,
            "kind": "automated",
            "action": "apps.workflows.actions.run_staging_tests",
        }
    ],
    "routes": [
        {"from": "check", "outcome": "passed", "to": None},
        {"from": "check", "outcome": "failed", "to": None},
    ],
}


@pytest.fixture
def healthz(client):
    def get(query: str = ""):
        return client.get("/healthz" + query)

    return get


@pytest.fixture
def with_broker():
    """Make Relay's Celery app use a broker (not eager) for the test."""
    opened = []

    def use(url: str):
        context = publishing_to(url)
        context.__enter__()
        opened.append(context)

    yield use
    for context in reversed(opened):
        context.__exit__(None, None, None)


@pytest.fixture
def undelivered(member):
    """A notification still waiting for its e-mail, written `age` ago."""

    def write(age: timedelta, status: str = EmailStatus.PENDING) -> Notification:
        return Notification.objects.create(
            recipient=member,
            kind=Kind.ASSIGNED,
            key=f"health-test:{age.total_seconds()}:{status}",
            created_at=timezone.now() - age,
            email_status=status,
        )

    return write


@pytest.fixture
def automated_step(team, lead, django_capture_on_commit_callbacks):
    """A running run's automated step, in progress since `started_ago` (its action's message
    never reached a worker: the on_commit enqueue is not run)."""
    template = exchange.import_template(NIGHTLY_CHECK, team=team)

    def start(started_ago: timedelta, title: str = "nightly") -> Task:
        with django_capture_on_commit_callbacks(execute=False):
            run = workflow_services.start_run(template=template, title=title, owner=lead, by=lead)
        task = Task.objects.get(run=run)
        assert task.state == State.IN_PROGRESS
        StateLog.objects.filter(object_id=task.pk, state=State.IN_PROGRESS).update(
            timestamp=timezone.now() - started_ago
        )
        return task

    return start
