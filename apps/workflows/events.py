"""Webhook events about runs (apps.hooks): run.started, run.finished, run.looped_back, and
step.waiting (an external step waits for its system's report).

Emitted by the run engine (services) inside its transaction; each payload is built only when
one of the team's hooks wants the event.
"""

from django.urls import reverse

from apps.hooks.models import Event
from apps.hooks.payloads import absolute, person, when
from apps.hooks.services import emit_event
from apps.people.models import User
from apps.tasks.events import task_payload
from apps.tasks.models import Task

from .models import Run


def run_payload(run: Run) -> dict:
    template = run.template
    return {
        "id": run.pk,
        "title": run.title,
        "status": run.status,
        "template": {
            "id": template.pk,
            "slug": template.slug,
            "name": template.name,
            "version": template.version,
        },
        "owner": person(run.owner),
        "inputs": run.inputs,
        "started_at": when(run.started_at),
        "finished_at": when(run.finished_at),
        "failure_reason": run.failure_reason or None,
        "url": absolute(reverse("workflows:run_detail", args=[run.pk])),
    }


def started(*, run: Run, by: User | None) -> None:
    emit_event(
        team=run.team_id,
        event=Event.RUN_STARTED,
        payload=lambda: {"run": run_payload(run), "by": person(by)},
    )


def finished(*, run: Run) -> None:
    """Completed, failed or cancelled: `run.status` says which, `failure_reason` why."""
    emit_event(
        team=run.team_id, event=Event.RUN_FINISHED, payload=lambda: {"run": run_payload(run)}
    )


def looped_back(*, run: Run, task: Task, reason: str, entered: list[Task]) -> None:
    """A step finished with a failure outcome and the run went back to `entered`."""
    emit_event(
        team=run.team_id,
        event=Event.RUN_LOOPED_BACK,
        payload=lambda: {
            "run": run_payload(run),
            "from": task_payload(task),
            "outcome": task.outcome,
            "reason": reason,
            "to": [task_payload(t) for t in entered],
        },
    )


def step_waiting(*, task: Task, token: str, result_path: str) -> None:
    """An external step's task waits for its system: the receiver (the CI job's trigger) gets
    where to report and the task's one-time callback token, which exists nowhere else in
    clear (Relay keeps its hash)."""
    step = task.step
    emit_event(
        team=task.team_id,
        event=Event.STEP_WAITING,
        payload=lambda: {
            "task": task_payload(task),
            "run": run_payload(task.run),
            "step": {"key": step.key, "name": step.name, "sla_hours": step.sla_hours},
            "system": step.system,
            "result_url": absolute(result_path),
            "callback_token": token,
        },
    )
