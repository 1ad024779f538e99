"""Workflow templates (steps joined by routes) and the runs that walk through them.

Versioning is copy-on-write: a template version that has runs is frozen. Editing it means
a draft, version N+1 (services.make_draft copies the steps and routes to new rows), which
becomes the current version once a lead publishes it; runs in flight keep pointing at the rows
of the version they started on. We chose this over a JSON snapshot per run because the run's
tasks can keep real foreign keys to their `Step` (with its skill, checklist and routes) and the
diagram, the engine and the admin all read the same tables, whichever version a run is on.
"""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.tasks.models import Outcome


class StepKind(models.TextChoices):
    MANUAL = "manual", _("Manual")
    REVIEW = "review", _("Review")
    AUTOMATED = "automated", _("Automated")
    # Finished by an outside system (a CI job, a data pipeline) reporting through the API.
    EXTERNAL = "external", _("External system")
    # Starts a run of another template of the same team (Step.subworkflow) and waits for it.
    SUBWORKFLOW = "subworkflow", _("Sub-workflow")


class ManualOutcomes(models.TextChoices):
    DONE = "done", _("Done")
    PASS_FAIL = "pass_fail", _("Passed / failed")


class AssignmentPolicy(models.TextChoices):
    AUTO = "auto", _("Assign automatically")
    LEAD = "lead", _("Leave for a lead to pick")


class EscalationPolicy(models.TextChoices):
    """What happens when a step's SLA runs out: each stage once, in this order, a stage's gap
    (Step.escalate_every_hours) after the one before (apps.workflows.escalation)."""

    OFF = "off", _("Don't escalate")
    REMIND = "remind", _("Remind the assignee")
    LEAD = "lead", _("Remind, then alert the leads")
    REASSIGN = "reassign", _("Remind, alert the leads, then re-assign")


REVIEW_OUTCOMES = (Outcome.APPROVED, Outcome.CHANGES_REQUESTED, Outcome.REJECTED)
PASS_FAIL_OUTCOMES = (Outcome.PASSED, Outcome.FAILED)
# A sub-workflow step ends as its child run did: completed, failed or cancelled.
SUBWORKFLOW_OUTCOMES = (Outcome.PASSED, Outcome.FAILED, Outcome.CANCELLED)
# Outcomes that send work back: they alert the run's owner and the team leads.
FAILURE_OUTCOMES = (Outcome.FAILED, Outcome.CHANGES_REQUESTED, Outcome.REJECTED)


def outcomes_for(*, kind: str, manual_outcomes: str = ManualOutcomes.DONE) -> tuple[str, ...]:
    """The outcomes a step of this kind can finish with; each needs exactly one route."""
    if kind == StepKind.REVIEW:
        return tuple(REVIEW_OUTCOMES)
    if kind == StepKind.SUBWORKFLOW:
        return tuple(SUBWORKFLOW_OUTCOMES)
    if (
        kind in (StepKind.AUTOMATED, StepKind.EXTERNAL)
        or manual_outcomes == ManualOutcomes.PASS_FAIL
    ):
        return tuple(PASS_FAIL_OUTCOMES)
    return (Outcome.DONE,)


class WorkflowTemplate(models.Model):
    team = models.ForeignKey("people.Team", on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80)
    description = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    is_active = models.BooleanField(
        default=True, help_text=_("Runs can be started. Invalid templates are saved inactive.")
    )
    is_current = models.BooleanField(
        default=True, editable=False, help_text=_("The newest version; older ones keep runs.")
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Typed run inputs: [{"name", "type", "label", "default", "required", "choices"}], read by
    # the start form, the conditions (inputs.<name>) and sub-workflow input mappings.
    input_fields = models.JSONField(default=list, blank=True)
    # A draft version: edited freely, never serves runs, becomes current once a lead publishes.
    is_draft = models.BooleanField(default=False, editable=False)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["team__name", "name", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "slug", "version"], name="template_version_unique"
            ),
            models.UniqueConstraint(
                fields=["team", "slug"],
                condition=models.Q(is_current=True),
                name="template_one_current_version",
            ),
            models.UniqueConstraint(
                fields=["team", "slug"],
                condition=models.Q(is_draft=True),
                name="template_one_draft",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"


class Step(models.Model):
    template = models.ForeignKey(WorkflowTemplate, on_delete=models.CASCADE, related_name="steps")
    key = models.SlugField(max_length=50, help_text=_("Short name used in routes and exports."))
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=StepKind.choices, default=StepKind.MANUAL)
    manual_outcomes = models.CharField(
        max_length=20,
        choices=ManualOutcomes.choices,
        default=ManualOutcomes.DONE,
        help_text=_("Manual steps only: finish as 'done', or as 'passed'/'failed'."),
    )
    is_start = models.BooleanField(default=False)
    is_join = models.BooleanField(
        default=False,
        help_text=_("Wait until every incoming branch is done (else: first arrival)."),
    )
    is_split = models.BooleanField(
        default=False,
        help_text=_("Parallel split: an outcome with several routes starts all of them at once."),
    )
    required_skill = models.ForeignKey(
        "people.Skill", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    min_level = models.PositiveSmallIntegerField(default=1)
    instructions = models.TextField(blank=True, help_text=_("How to do it."))
    inputs = models.TextField(blank=True, help_text=_("What the step expects to start with."))
    outputs = models.TextField(blank=True, help_text=_("What it must produce."))
    checklist = models.TextField(
        blank=True,
        help_text=_(
            "Completion criteria, one per line (copied onto the task). Start a line with * "
            "to make it required: the task can't be completed until it is ticked."
        ),
    )
    sla_hours = models.PositiveIntegerField(null=True, blank=True)
    escalation = models.CharField(
        max_length=10,
        choices=EscalationPolicy.choices,
        default=EscalationPolicy.OFF,
        help_text=_(
            "When the SLA runs out: remind the assignee, then alert the leads, then re-assign "
            "to the next eligible person. Needs an SLA."
        ),
    )
    escalate_every_hours = models.PositiveIntegerField(
        default=4,
        help_text=_("Hours between escalation stages: the first comes when the SLA runs out."),
    )
    assignment_policy = models.CharField(
        max_length=10, choices=AssignmentPolicy.choices, default=AssignmentPolicy.AUTO
    )
    action = models.CharField(
        max_length=200, blank=True, help_text=_("Automated steps: a registered action's path.")
    )
    system = models.CharField(
        max_length=80,
        blank=True,
        help_text=_(
            "External steps: the outside system that reports the result (e.g. 'CI'); the board "
            "shows the task as waiting for it. Its SLA is how long Relay waits for the report."
        ),
    )
    max_iterations = models.PositiveSmallIntegerField(
        default=5, help_text=_("The run fails instead of reaching this step more often.")
    )
    position = models.PositiveSmallIntegerField(default=0)
    # Typed outputs the doer (or the external system) records when finishing:
    # [{"name", "type", "label", "required", "choices"}]; kept per task (Task.outputs).
    output_fields = models.JSONField(default=list, blank=True)
    # Sub-workflow steps: the slug of the team's template to run, and the child's inputs as
    # {child input name: expression over the parent run's inputs and outputs}.
    subworkflow = models.CharField(max_length=80, blank=True)
    subworkflow_inputs = models.JSONField(default=dict, blank=True)
    # Four-eyes across a run, decided in apps.tasks.four_eyes: keys (not rows) so a new
    # version's copy and an export keep them as they are.
    not_done_by = models.JSONField(
        default=list,
        blank=True,
        help_text=_(
            "Keys of the steps whose doers may not do this one in the same run. Empty on a "
            "review step: nobody who did an earlier step of the run reviews it."
        ),
    )

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["template", "key"], name="step_key_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def outcomes(self) -> tuple[str, ...]:
        return outcomes_for(kind=self.kind, manual_outcomes=self.manual_outcomes)

    @property
    def checklist_items(self) -> list[str]:
        """The criteria's texts, without the required mark."""
        return [text for text, _required in self.checklist_entries]

    @property
    def checklist_entries(self) -> list[tuple[str, bool]]:
        """(text, required) per criterion: a line starting with REQUIRED_MARK is required."""
        return [entry for line in self.checklist.splitlines() if (entry := checklist_entry(line))]


# How a step's checklist (one criterion a line) marks a required one: "* Tests pass".
REQUIRED_MARK = "*"


def checklist_entry(line: str) -> tuple[str, bool] | None:
    """One line of a step's checklist as (text, required); None for a blank line."""
    line = line.strip()
    required = line.startswith(REQUIRED_MARK)
    text = line.removeprefix(REQUIRED_MARK).strip() if required else line
    return (text, required) if text else None


def checklist_line(text: str, required: bool) -> str:
    """The line a (text, required) criterion is stored as: checklist_entry's inverse."""
    return f"{REQUIRED_MARK} {text}" if required else text


class Route(models.Model):
    """(from step, outcome) → next step, or END when `to_step` is empty."""

    template = models.ForeignKey(WorkflowTemplate, on_delete=models.CASCADE, related_name="routes")
    from_step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="routes_out")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    to_step = models.ForeignKey(
        Step,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="routes_in",
        help_text=_("Empty = END."),
    )
    # A condition over the run's inputs and outputs (apps.workflows.conditions); routes of one
    # (step, outcome) are tried in `position` order, an empty condition is the default route.
    condition = models.CharField(max_length=500, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["from_step__position", "position", "id"]

    def __str__(self) -> str:
        return (
            f"{self.from_step.key} —{self.outcome}→ {self.to_step.key if self.to_step else 'END'}"
        )

    @property
    def to_key(self) -> str | None:
        """The key of the step it leads to (None = END), as validation.RouteSpec has it."""
        return self.to_step.key if self.to_step_id else None


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class Run(models.Model):
    template = models.ForeignKey(WorkflowTemplate, on_delete=models.PROTECT, related_name="runs")
    team = models.ForeignKey("people.Team", on_delete=models.CASCADE, related_name="runs")
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_runs"
    )
    status = models.CharField(
        max_length=20, choices=RunStatus.choices, default=RunStatus.RUNNING, db_index=True
    )
    inputs = models.JSONField(default=dict, blank=True)
    # A sub-workflow's run: the parent run's task (of a sub-workflow step) waiting for it.
    parent_task = models.ForeignKey(
        "tasks.Task",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="child_runs",
    )
    failure_reason = models.TextField(blank=True)
    # A failed run: the step it failed at (its task failed, was cancelled, had no route, or it
    # would have run more often than allowed), where a lead may retry it from.
    failed_step = models.ForeignKey(
        Step, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["team", "status"], name="run_team_status_idx")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("workflows:run_detail", kwargs={"pk": self.pk})


class DispatchKind(models.TextChoices):
    AUTOMATED = "automated", _("Automated action")
    EXTERNAL = "external", _("Waiting for an outside system")


class StepDispatch(models.Model):
    """A step's work that must happen outside the request: the durable half of a Celery message.

    Written in the same transaction as the task entering the step, so a message the broker
    never took (it was down) or a worker lost (it died mid-action) is found again by the
    sweeper (services.sweep_dispatches). A worker runs the action only after claiming the
    row with one conditional UPDATE (unclaimed, or its lease expired), so a redelivered or
    re-enqueued message finds it taken or finished and does nothing. `key` is handed to the
    action, the same on every attempt, so an action re-run after a lost worker can recognise
    its own earlier effect.

    An external step's row (kind `external`) is the wait for an outside system's report: it
    holds the one-time callback token's hash, and the report itself once it came (outcome,
    message, link, who sent it), which is what makes a repeated report recognisable. Nothing
    enqueues it; the sweeper fails it once the step's SLA has passed without a report.
    """

    task = models.OneToOneField("tasks.Task", on_delete=models.CASCADE, related_name="dispatch")
    kind = models.CharField(
        max_length=20, choices=DispatchKind.choices, default=DispatchKind.AUTOMATED
    )
    key = models.CharField(max_length=120, unique=True)
    queued_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(
        default=timezone.now, help_text=_("Last time a message was handed to the broker.")
    )
    attempts = models.PositiveIntegerField(default=0, help_text=_("Claims: runs started."))
    claimed_by = models.CharField(max_length=200, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # External steps only (see the class docstring).
    callback_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    callback_token_used_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    message = models.TextField(blank=True)
    link = models.URLField(max_length=500, blank=True)
    reported_by = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["queued_at"],
                name="dispatch_open_idx",
                condition=models.Q(finished_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return self.key


class Deployment(models.Model):
    """What the demo `deploy_model` action records: which model went where, for which run.

    `key` is the automated step's idempotency key: one deployment per step however often the
    action is re-run (empty for deployments recorded without one)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="deployments")
    key = models.CharField(max_length=120, unique=True, null=True, blank=True)
    model_name = models.CharField(max_length=120)
    environment = models.CharField(max_length=40, default="production")
    deployed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-deployed_at"]

    def __str__(self) -> str:
        return f"{self.model_name} → {self.environment}"


class RouteTaken(models.Model):
    """Which route a finished task sent its run along, and why: the run page's "why", the
    loop-back alert's "which check failed", and the insight pages' arrow counts.

    One row per route followed (a split follows several); `to_step` empty is END. `condition`
    is the condition that matched ("" for the default or an unconditional route), `values` the
    names it read with their values, `failed_checks` the conditions tried before it that were
    false (in order), `note` the doer's note when finishing."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="routes_taken")
    task = models.ForeignKey("tasks.Task", on_delete=models.CASCADE, related_name="routes_taken")
    route = models.ForeignKey(Route, on_delete=models.SET_NULL, null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    to_step = models.ForeignKey(
        Step, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    condition = models.CharField(max_length=500, blank=True)
    values = models.JSONField(default=dict, blank=True)
    failed_checks = models.JSONField(default=list, blank=True)
    is_loop_back = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    taken_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["taken_at", "id"]
        indexes = [models.Index(fields=["run", "taken_at"], name="route_taken_run_idx")]

    def __str__(self) -> str:
        return f"{self.task_id} —{self.outcome}→ {self.to_step_id or 'END'}"


class RunEventKind(models.TextChoices):
    RETRIED = "retried", _("Retried")


class RunEvent(models.Model):
    """Something a person did to the run itself, which no task's history holds: a lead retrying
    a failed run from its failed step (who, when, from which step, the failure it answered)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=RunEventKind.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    step = models.ForeignKey(
        Step, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)
    failure_reason = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.run_id} {self.kind}"
