"""Walking a run's tasks through the task services, as the people doing them would."""

import copy

from apps.tasks import services as task_services
from apps.tasks.models import State, Task
from apps.workflows import services


def open_task(run, key: str) -> Task:
    return Task.objects.get(run=run, step__key=key, state__in=["todo", "assigned", "in_progress"])


# A review step is decided, not completed: the verb for each of its outcomes.
DECISIONS = {
    "approved": task_services.approve,
    "changes_requested": task_services.request_changes,
    "rejected": task_services.reject,
}


def tick_required(task: Task, by=None) -> None:
    """Tick the task's required checklist items (a step's criteria), as its assignee would."""
    for item in task.checklist.filter(required=True, done=False):
        task_services.toggle_checklist_item(item=item, by=by or task.assignee, done=True)


# The ML template's Evaluate records `accuracy`, routed on `accuracy >= inputs.threshold` (0.9
# by default): in a test's path, "passed" and "failed" for it mean above and below that.
ACCURACY = {"passed": 0.95, "failed": 0.5}


def outputs_for(task: Task, outcome) -> dict | None:
    """The outputs a step records for a test's `outcome` (a dict is the outputs themselves)."""
    if isinstance(outcome, dict):
        return outcome
    if task.step_id and task.step.output_fields and outcome in ACCURACY:
        return {"accuracy": ACCURACY[outcome]}
    return None


def complete(task: Task, outcome, by) -> Task:
    """Complete the task as its page would: with the step's outputs when it records any."""
    outputs = outputs_for(task, outcome)
    if outputs is not None:
        return services.finish_step(task=task, by=by, outputs=outputs)
    return task_services.complete(task=task, by=by, outcome=outcome)


def finish(run, key: str, outcome: str = "done", *, taker=None) -> Task:
    """The assignee (or `taker`, taking it first) starts, ticks the required checklist items
    of and completes the step's open task; a review step's assignee decides it."""
    task = open_task(run, key)
    if task.state == State.TODO:
        task = task_services.assign_to(task=task, assignee=taker, by=taker)
    if task.state == State.ASSIGNED:
        task = task_services.start(task=task, by=task.assignee)
    tick_required(task)
    if task.is_review_step:
        return DECISIONS[outcome](task=task, by=task.assignee)
    return complete(task, outcome, task.assignee)


def with_automated_staging(document: dict) -> dict:
    """The ML document with its staging tests run by the registered action run_staging_tests
    (as it shipped before a CI job reported them): what the automated-step tests exercise."""
    document = copy.deepcopy(document)
    staging = next(s for s in document["steps"] if s["key"] == "staging")
    staging.update(
        kind="automated",
        action="apps.workflows.actions.run_staging_tests",
        system="",
        sla_hours=None,
        instructions="Runs automatically: metrics must meet the run's thresholds.",
    )
    return document
