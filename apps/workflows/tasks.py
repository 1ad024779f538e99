"""Celery tasks: running an automated step's registered action, and sweeping for lost ones.

Queued with transaction.on_commit when a run reaches an automated step (eager without a
broker: dev and tests), and again by the sweeper if that message never reached a worker or its
worker died. Safe to deliver twice: the worker claims the step's dispatch before calling the
action (services.claim_dispatch), so a redelivered message (acks_late) or a re-enqueued one
that finds it claimed or finished does nothing; an action re-run after a lost worker gets the
same idempotency key (see apps.workflows.actions).
"""

import inspect
import logging
import os
import socket
import uuid

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils.module_loading import import_string

from apps.tasks.models import Outcome, State, Task

from . import escalation, services
from .checks import HARD_LIMIT_MARGIN
from .validation import registered_actions

logger = logging.getLogger(__name__)


def _accepts_key(action) -> bool:
    parameters = inspect.signature(action).parameters.values()
    return any(p.name == "key" or p.kind is p.VAR_KEYWORD for p in parameters)


def _call(action_path: str, task: Task, key: str) -> tuple[str, str]:
    if action_path not in registered_actions():
        raise LookupError(f"Action '{action_path}' is not registered in RELAY_ACTIONS.")
    action = import_string(action_path)
    # Actions written before the key existed are still called as action(run=, task=).
    extra = {"key": key} if _accepts_key(action) else {}
    result = action(run=task.run, task=task, **extra)
    outcome, detail = result if isinstance(result, tuple) else (result, "")
    if outcome not in (Outcome.PASSED, Outcome.FAILED):
        raise ValueError(f"The action returned {outcome!r}, not 'passed' or 'failed'.")
    return outcome, detail


def _token() -> str:
    """Who holds a claim: readable in the admin, unique per delivery."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


# The worker raises SoftTimeLimitExceeded inside a hung action: caught below as "failed". An
# action deaf to it (stuck in C code) is killed HARD_LIMIT_MARGIN s later; the claim's lease
# (RELAY_STEP_CLAIM_LEASE, see checks.py) is longer still, so nobody takes over a step that is
# still running, and the sweeper runs a killed one again once its lease has expired.
@shared_task(
    acks_late=True,
    soft_time_limit=settings.RELAY_ACTION_TIMEOUT,
    time_limit=settings.RELAY_ACTION_TIMEOUT + HARD_LIMIT_MARGIN,
)
def run_automated_step(task_id: int) -> str:
    task = Task.objects.select_related("run", "step").filter(pk=task_id).first()
    if task is None or task.state != State.IN_PROGRESS or task.step_id is None:
        return "skipped"
    dispatch = services.claim_dispatch(task=task, token=_token())
    if dispatch is None:
        return "skipped"  # another delivery runs it or ran it, or it is out of attempts
    try:
        outcome, detail = _call(task.step.action, task, dispatch.key)
        error = detail if outcome == Outcome.FAILED else ""
    except SoftTimeLimitExceeded:
        outcome = Outcome.FAILED
        error = f"Timed out after {settings.RELAY_ACTION_TIMEOUT} s."
    except Exception as exc:  # any failure of the action is the step's "failed" outcome
        logger.warning("Automated step %s failed: %s", task_id, exc)
        outcome, error = Outcome.FAILED, f"{type(exc).__name__}: {exc}"
    try:
        services.record_automated_result(task=task, outcome=outcome, error=error)
    except Exception as exc:
        # The claim stays until its lease expires; the sweeper then runs the step again with
        # the same key. Noting why is best effort: the database may be what went away.
        try:
            services.note_dispatch_error(task_id=task_id, error=f"{type(exc).__name__}: {exc}")
        except Exception:
            logger.debug("could not note the dispatch error", exc_info=True)
        raise
    return outcome


@shared_task(acks_late=True, ignore_result=True)
def sweep_steps() -> dict[str, int]:
    return services.sweep_dispatches()


@shared_task(acks_late=True, ignore_result=True)
def escalate_overdue() -> int:
    """Each stage once per task (a unique row per task and stage), so an overlapping beat tick
    or a redelivered message escalates nothing twice."""
    return len(escalation.escalate_overdue())
