"""External steps report their result here (POST /api/v1/steps/<task>/result).

The caller is a CI job or a pipeline: with a service token of the task's team, or with the
one-time callback token the team's "step.waiting" webhook carried (`Authorization: Bearer
rcb_…`), which is good for that one task and one report. The workflows service decides who may
report, what a repeat means and where the run goes next; this only translates.
"""

from datetime import datetime
from http import HTTPStatus

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema
from ninja.security import HttpBearer
from pydantic import Field

from apps.core.refusals import Refused
from apps.workflows import selectors, services

from . import limits
from .access import Id
from .auth import AUTH
from .errors import ERRORS

router = Router(tags=["steps"])


class CallbackToken(HttpBearer):
    """`Authorization: Bearer rcb_…`: an external step's callback token. Any other bearer is
    left to the API's own token auth, which comes after this one."""

    def authenticate(self, request: HttpRequest, token: str) -> services.CallbackCaller | None:
        if not token.startswith(services.CALLBACK_TOKEN_PREFIX):
            return None
        digest = services.hash_callback_token(token)
        limits.check_rate(caller_key=f"callback:{digest[:32]}")
        return services.CallbackCaller(callback_token=token)


class ResultIn(Schema):
    outcome: str = Field(..., max_length=20, description="passed or failed")
    message: str = Field(
        "", max_length=services.MESSAGE_MAX, description="What the system found, for people."
    )
    link: str = Field(
        "", max_length=services.LINK_MAX, description="Where to read more (e.g. the CI job)."
    )
    outputs: dict | None = Field(
        None, description="The step's outputs as {name: value}, typed as the step declares them."
    )


class ResultOut(Schema):
    task: int
    step: str
    outcome: str
    message: str
    link: str
    reported_at: datetime
    reported_by: str


@router.post(
    "{task_id}/result",
    auth=[CallbackToken(), *AUTH],
    response={200: ResultOut, **ERRORS},
    summary="Report an external step's result",
    description=(
        "Finishes the waiting task of an external step with `passed` or `failed`; the run "
        "routes on it as on a person's outcome (a failure loops back and alerts the run's "
        "owner with the message and link). The same result again answers the same and changes "
        "nothing; a different one is 409. Authenticate with a service token of the task's team "
        "or with the task's one-time callback token from the step.waiting webhook."
    ),
)
def report_result(request, task_id: Id, payload: ResultIn):
    task = selectors.reported_task(pk=task_id)
    if task is None:
        raise Refused(
            _("No task %(id)d waits for a report from an outside system.") % {"id": task_id},
            status=HTTPStatus.NOT_FOUND,
        )
    report = services.report_external_result(
        task=task,
        outcome=payload.outcome,
        message=payload.message,
        link=payload.link,
        outputs=payload.outputs,
        caller=request.auth,
    )
    return {
        "task": report.task.pk,
        "step": report.task.step.key,
        "outcome": report.outcome,
        "message": report.message,
        "link": report.link,
        "reported_at": report.reported_at,
        "reported_by": report.reported_by,
    }
