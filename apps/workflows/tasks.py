"""Celery tasks: running an automated step's registered action.

Queued with transaction.on_commit when a run reaches an automated step (eager without a
broker: dev and tests). Idempotent: a task that is no longer in progress is left alone, so a
redelivered message (acks_late) does not route the run twice.
"""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils.module_loading import import_string

from apps.tasks.models import Outcome, State, Task

from . import services
from .validation import registered_actions

logger = logging.getLogger(__name__)


def _call(action_path: str, task: Task) -> tuple[str, str]:
    if action_path not in registered_actions():
        raise LookupError(f"Action '{action_path}' is not registered in RELAY_ACTIONS.")
    result = import_string(action_path)(run=task.run, task=task)
    outcome, detail = result if isinstance(result, tuple) else (result, "")
    if outcome not in (Outcome.PASSED, Outcome.FAILED):
        raise ValueError(f"The action returned {outcome!r}, not 'passed' or 'failed'.")
    return outcome, detail


# The worker raises SoftTimeLimitExceeded inside a hung action: caught below as "failed".
@shared_task(acks_late=True, soft_time_limit=settings.RELAY_ACTION_TIMEOUT)
def run_automated_step(task_id: int) -> str:
    task = Task.objects.select_related("run", "step").filter(pk=task_id).first()
    if task is None or task.state != State.IN_PROGRESS or task.step_id is None:
        return "skipped"
    try:
        outcome, detail = _call(task.step.action, task)
        error = detail if outcome == Outcome.FAILED else ""
    except SoftTimeLimitExceeded:
        outcome = Outcome.FAILED
        error = f"Timed out after {settings.RELAY_ACTION_TIMEOUT} s."
    except Exception as exc:  # any failure of the action is the step's "failed" outcome
        logger.warning("Automated step %s failed: %s", task_id, exc)
        outcome, error = Outcome.FAILED, f"{type(exc).__name__}: {exc}"
    services.record_automated_result(task=task, outcome=outcome, error=error)
    return outcome
