"""The demo ships its valid templates and runs in several stages; loading it twice is safe."""

from io import StringIO

import pytest
from django.core.management import call_command

from apps.tasks.models import Task
from apps.workflows.models import Run, RunStatus, WorkflowTemplate
from apps.workflows.validation import graph_of, validate


def test_seed_demo_ships_the_templates_and_runs_once(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    templates = WorkflowTemplate.objects.all()
    assert sorted(t.slug for t in templates) == [
        "ci-cd-release",
        "content-publishing",
        "crm-update",
        "employee-onboarding",
        "ml-deployment",
        "support-escalation",
        "training-scheduling",
        "welcome-email",
    ]
    assert all(validate(graph_of(t)) == [] for t in templates)
    looped = Run.objects.get(title__contains="looped back twice")
    assert Task.objects.filter(run=looped, step__key="train").count() == 3
    assert set(Run.objects.values_list("status", flat=True)) == {
        RunStatus.RUNNING,
        RunStatus.COMPLETED,
        RunStatus.CANCELLED,
        # The history's runs that looped back too often (apps.workflows.demo_history).
        RunStatus.FAILED,
    }
    counts = (WorkflowTemplate.objects.count(), Run.objects.count(), Task.objects.count())
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    assert (WorkflowTemplate.objects.count(), Run.objects.count(), Task.objects.count()) == counts


@pytest.mark.django_db(transaction=True)
def test_seed_demo_fills_inboxes_without_sending_email(mailoutbox):
    """Committed for real, so deliveries and automated steps run as they do in `make run`."""
    from apps.notifications.models import EmailStatus, Notification

    call_command("seed_demo", stdout=StringIO())
    # Each demo login the README names finds something unread in their inbox …
    unread = Notification.objects.filter(read_at=None)
    recipients = set(unread.values_list("recipient__username", flat=True))
    assert {"ada", "grace", "alan", "katherine", "linus"} <= recipients
    # … and nothing was, or is still waiting to be, e-mailed.
    assert not Notification.objects.filter(email_status=EmailStatus.PENDING).exists()
    assert mailoutbox == []


def test_the_demos_done_work_met_its_criteria(db, django_capture_on_commit_callbacks):
    """A Done card used to say ☑ 0/2: the demo finished work without ticking anything. Now
    whoever finished it ticked its items (a review sending work back leaves its own as is)."""
    from apps.tasks.models import ChecklistItem, Outcome, State

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    done = ChecklistItem.objects.filter(task__state=State.DONE)
    assert done.filter(task__run__isnull=False).exists()
    assert done.filter(required=True).exists()
    unticked = done.filter(done=False).exclude(
        task__step__kind="review",
        task__outcome__in=[Outcome.CHANGES_REQUESTED, Outcome.REJECTED],
    )
    assert list(unticked.values_list("task__title", "text")) == []
