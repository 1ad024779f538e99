"""Four-eyes across a run: whoever did a step of a run never does a step that names it.

A workflow step may name the steps whose doers must not do it (`Step.not_done_by`, step keys);
a review step that names none is never done by whoever did an earlier step of the same run, in
any iteration (the trainer and the evaluator never review the model). Decided here, in the
lowest app that can read it, so the assignment engine's candidates, every way of assigning and
every review decision ask the very same question. It reads the task's step and the run's other
tasks; it never imports the workflows app.

Who *did* a task: its assignee, and whoever declared its work finished (submitted or completed
it: a lead who completes a member's task did it too).
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.utils.translation import gettext as _
from django_fsm_log.models import StateLog

from apps.people.models import User

from .models import REVIEW_STEP_KIND, Task

DOING = ("submit", "complete")
# The transitions that finish a step's work: a barred person may take none of them.
GUARDED = frozenset({"submit", "complete", "approve", "request_changes", "reject"})
_EARLIER = "earlier"


@dataclass(frozen=True)
class Conflict:
    """`name` (user `user_id`) did `step` in this run, so may not do the task it was found for."""

    user_id: int
    name: str
    step: str
    review: bool

    def sentence(self, *, by: User | None = None) -> str:
        """The refusal, said to `by`: "You did Train model in this run; someone else must
        review it." or, of someone else, "Ada did Train model in this run; …"."""
        values = {"name": self.name, "step": self.step}
        if by is not None and by.pk == self.user_id:
            if self.review:
                return _("You did %(step)s in this run; someone else must review it.") % values
            return _("You did %(step)s in this run; someone else must do this step.") % values
        if self.review:
            return _("%(name)s did %(step)s in this run; someone else must review it.") % values
        return _("%(name)s did %(step)s in this run; someone else must do this step.") % values

    @property
    def reason(self) -> str:
        """The same, as one of a candidate's reasons ("Ada: did Train model in this run; …")."""
        if self.review:
            return _("did %(step)s in this run; someone else must review it") % {"step": self.step}
        return _("did %(step)s in this run; someone else must do this step") % {"step": self.step}


def _rule(task: Task):
    """The step keys whose doers are barred from `task`, _EARLIER for every earlier step of
    the run, or None when its step names none."""
    if task.step_id is None or task.run_id is None:
        return None
    step = task.step
    if step.not_done_by:
        return set(step.not_done_by)
    if step.kind == REVIEW_STEP_KIND:
        return _EARLIER
    return None


def conflicts(*, task: Task) -> dict[int, Conflict]:
    """Everyone barred from `task`, by user id (empty: anyone may do it, as far as four-eyes
    goes). No query for a task outside a run; two for a step with a rule."""
    return conflicts_for(tasks=[task]).get(task.pk, {})


def conflict_of(*, task: Task, user: User) -> Conflict | None:
    return conflicts(task=task).get(user.pk)


def conflicts_for(*, tasks: Iterable[Task]) -> dict[int, dict[int, Conflict]]:
    """conflicts() for many tasks at once (a team's backlog): two queries however many."""
    ruled = [(task, rule) for task in tasks if (rule := _rule(task)) is not None]
    if not ruled:
        return {}
    run_ids = {task.run_id for task, _rule_ in ruled}
    in_runs = Task.objects.filter(run_id__in=run_ids)
    rows = list(
        in_runs.order_by("pk").values_list(
            "pk",
            "run_id",
            "step_id",
            "step__key",
            "step__name",
            "assignee_id",
            "assignee__first_name",
            "assignee__last_name",
            "assignee__username",
        )
    )
    finishers: dict[int, list[tuple]] = {}
    for object_id, *person in (
        StateLog.objects.filter(
            content_type=ContentType.objects.get_for_model(Task),
            object_id__in=in_runs.values("pk"),
            transition__in=DOING,
            by__isnull=False,
        )
        .order_by("pk")
        .values_list("object_id", "by_id", "by__first_name", "by__last_name", "by__username")
    ):
        finishers.setdefault(object_id, []).append(tuple(person))
    result: dict[int, dict[int, Conflict]] = {}
    for task, rule in ruled:
        review = task.step.kind == REVIEW_STEP_KIND
        found: dict[int, Conflict] = {}
        for pk, run_id, step_id, key, step_name, *assignee in rows:
            if run_id != task.run_id or pk == task.pk:
                continue
            if rule == _EARLIER:
                if step_id == task.step_id or pk > task.pk:
                    continue
            elif key not in rule:
                continue
            for user_id, first, last, username in [tuple(assignee), *finishers.get(pk, [])]:
                if user_id is not None and user_id not in found:
                    name = f"{first} {last}".strip() or username
                    found[user_id] = Conflict(
                        user_id=user_id, name=name, step=step_name, review=review
                    )
        result[task.pk] = found
    return result


def doers(*, task: Task) -> list[User]:
    """Whoever did the work a step's task is barred from (a review's authors): they hear how
    it was decided."""
    barred = conflicts(task=task)
    return list(User.objects.filter(pk__in=barred)) if barred else []
