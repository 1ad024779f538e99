"""The task and its one lifecycle.

    todo ─assign─▶ assigned ─start─▶ in_progress ─submit─▶ in_review ─approve─▶ done
     ▲  ◀unassign─┘                   │ ▲ ◀──request_changes──┘   └─reject─▶ done(rejected)
     │                                └─complete(outcome)─▶ done   (work without review)
     └── any open state ─hold─▶ on_hold ─resume─▶ the state it was held from
         any open or held state ─cancel─▶ cancelled

A workflow's review step is a task whose assignee is the reviewer: it never completes, it is
decided (approve / request changes / reject, from assigned, in progress or in review) and
every decision finishes it, its outcome routing the run (changes requested loops back).

The state is a protected django-fsm field: it only changes through these transitions, each
guarded by a permission (who may take it) and logged by django-fsm-log. Call them through
apps.tasks.services, which also keeps capacity counters and the log note in step.
"""

import threading

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import Storage, storages
from django.core.validators import MaxLengthValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description

from apps.people import selectors as people


class State(models.TextChoices):
    TODO = "todo", _("To do")
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    IN_REVIEW = "in_review", _("In review")
    DONE = "done", _("Done")
    ON_HOLD = "on_hold", _("On hold")
    CANCELLED = "cancelled", _("Cancelled")


# workflows.StepKind.REVIEW, the kind of step whose task is a review (read, not imported).
REVIEW_STEP_KIND = "review"
# workflows.StepKind.AUTOMATED: its task is done by a registered action, which ticks nothing.
AUTOMATED_STEP_KIND = "automated"
# workflows.StepKind.EXTERNAL: its task waits for an outside system's report, held by automation.
EXTERNAL_STEP_KIND = "external"
# workflows.StepKind.SUBWORKFLOW: its task waits for a child run to end, held by automation.
SUBWORKFLOW_STEP_KIND = "subworkflow"


class EscalationStage(models.TextChoices):
    """The stages of a step's SLA escalation, in the order they come (apps.workflows.escalation)."""

    REMIND = "remind", _("Remind the assignee")
    LEAD = "lead", _("Alert the team's leads")
    REASSIGN = "reassign", _("Re-assign")


class EscalationStatus(models.TextChoices):
    """What a task's card says of its escalation: the latest stage and how it went."""

    REMINDED = "reminded", _("reminded")
    LEAD_ALERTED = "lead_alerted", _("lead alerted")
    REASSIGNED = "reassigned", _("re-assigned")
    NOT_REASSIGNED = "not_reassigned", _("nobody to re-assign")


def state_label(state: str) -> str:
    """The words for a state ("In review"); an unknown value as it is."""
    return str(State(state).label) if state in State.values else state


OPEN_STATES = (State.TODO, State.ASSIGNED, State.IN_PROGRESS, State.IN_REVIEW)
# States that count against the assignee's capacity.
ACTIVE_STATES = (State.ASSIGNED, State.IN_PROGRESS, State.IN_REVIEW)
# States whose work is not finished: open or put on hold (a run waits for them).
UNFINISHED_STATES = (*OPEN_STATES, State.ON_HOLD)
FINAL_STATES = (State.DONE, State.CANCELLED)
LIFECYCLE_ORDER = [
    State.TODO,
    State.ASSIGNED,
    State.IN_PROGRESS,
    State.IN_REVIEW,
    State.DONE,
    State.ON_HOLD,
    State.CANCELLED,
]


class Outcome(models.TextChoices):
    DONE = "done", _("Done")
    PASSED = "passed", _("Passed")
    FAILED = "failed", _("Failed")
    APPROVED = "approved", _("Approved")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")
    REJECTED = "rejected", _("Rejected")
    # A sub-workflow step whose child run was cancelled.
    CANCELLED = "cancelled", _("Cancelled")


class Priority(models.IntegerChoices):
    LOW = 1, _("Low")
    NORMAL = 2, _("Normal")
    HIGH = 3, _("High")
    URGENT = 4, _("Urgent")


def _is_assignee(task: "Task", user) -> bool:
    return task.assignee_id is not None and task.assignee_id == user.pk


def _is_lead(task: "Task", user) -> bool:
    return people.is_lead(team_id=task.team_id, user=user)


def may_assign(task: "Task", user) -> bool:
    """A lead assigns anyone; a member may take a task for themselves (checked in services)."""
    return people.role_in(team_id=task.team_id, user=user) is not None


def may_work(task: "Task", user) -> bool:
    """The assignee does the work; a lead may do anything."""
    return _is_assignee(task, user) or _is_lead(task, user)


def may_review(task: "Task", user) -> bool:
    """Four-eyes: a reviewer or lead who is not the assignee; the named reviewer if one is set.

    A review step's assignee is its reviewer (four-eyes across the run is apps.tasks.four_eyes,
    checked when it is assigned and when it is decided)."""
    if task.is_review_step:
        return _is_assignee(task, user) or _is_lead(task, user)
    if _is_assignee(task, user):
        return False
    if task.reviewer_id is not None and task.reviewer_id != user.pk:
        return _is_lead(task, user)
    return people.can_review(team_id=task.team_id, user=user)


def may_cancel(task: "Task", user) -> bool:
    return _is_lead(task, user) or (
        task.created_by_id is not None and task.created_by_id == user.pk
    )


MUST_BE_REVIEWED = _("This work must be reviewed by someone else: submit it for review instead.")
REVIEW_DECIDED = _("A review is decided, not completed: approve, request changes or reject it.")


def _not_in_review(action: str):
    """Deciding on other work before it is in review is refused as any wrong state is."""
    return lambda task: (
        _("Can't %(action)s a task that is %(state)s.")
        % {
            "action": action,
            "state": state_label(task.state),
        }
    )


# A review step's task is decided from any of these; other work once it is in review.
DECIDABLE_STATES = [State.ASSIGNED, State.IN_PROGRESS, State.IN_REVIEW]


def _decidable(task: "Task") -> bool:
    return task.state == State.IN_REVIEW or task.is_review_step


def lifecycle(
    *,
    source,
    target,
    permission,
    label,
    refused,
    style: str = "",
    admin: bool = True,
    conditions=None,
    unmet=None,
):
    """One transition of the task lifecycle, declared once: django-fsm's transition on
    `state`, logged by django-fsm-log (who, and the note as its description), with what people
    see of it in `custom` (the button's label and style, the sentence refusing someone who may
    not take it, the one saying why it can't be taken when its conditions are unmet, and
    whether the admin offers it)."""
    # `unmet` may be a function of the task when the reason depends on what the task is.
    if conditions and not unmet:
        raise ValueError(f"{label}: a transition with conditions says why they are unmet.")
    custom = {"label": label, "refused": refused, "style": style, "unmet": unmet or ""}
    if not admin:
        custom["admin"] = False

    def declare(method):
        return fsm_log_by(
            fsm_log_description(
                transition(
                    field="state",
                    source=source,
                    target=target,
                    permission=permission,
                    conditions=conditions or [],
                    custom=custom,
                )(method)
            )
        )

    return declare


# See Task.refresh_from_db.
_RELOADING = threading.Lock()


class Task(ConcurrentTransitionMixin, models.Model):
    # No index of its own: every index below starts with the team (one less to write per save).
    team = models.ForeignKey(
        "people.Team", on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    title = models.CharField(max_length=200)
    description = models.TextField(
        blank=True, max_length=10_000, validators=[MaxLengthValidator(10_000)]
    )
    required_skill = models.ForeignKey(
        "people.Skill", on_delete=models.PROTECT, null=True, blank=True, related_name="tasks"
    )
    min_level = models.PositiveSmallIntegerField(default=1)
    requires_review = models.BooleanField(
        default=False, help_text=_("The work must be reviewed by someone else before it is done.")
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_tasks",
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="review_tasks",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="created_tasks",
    )
    state = FSMField(
        max_length=20, choices=State.choices, default=State.TODO, protected=True, db_index=True
    )
    held_from = models.CharField(max_length=20, choices=State.choices, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    # A workflow step's recorded outputs ({name: value}, typed by Step.output_fields).
    outputs = models.JSONField(default=dict, blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    due_at = models.DateTimeField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    iteration = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The workflow run and step this task does (empty for stand-alone tasks).
    run = models.ForeignKey(
        "workflows.Run", on_delete=models.CASCADE, null=True, blank=True, related_name="tasks"
    )
    step = models.ForeignKey(
        "workflows.Step", on_delete=models.PROTECT, null=True, blank=True, related_name="tasks"
    )
    # Why an automated step's action failed (exception or timeout), shown on the task.
    automation_error = models.TextField(blank=True)
    # Where its step's SLA escalation has got to (the latest Escalation row, kept on the task
    # so the card shows it without a query and the task's change refreshes cached pages).
    escalation = models.CharField(max_length=20, choices=EscalationStatus.choices, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "-priority", "id"]
        constraints = [
            # A run reaches a step once per iteration: the database referees concurrent joins.
            models.UniqueConstraint(
                fields=["run", "step", "iteration"],
                condition=models.Q(run__isnull=False),
                name="task_run_step_iteration_unique",
            )
        ]
        indexes = [
            models.Index(fields=["team", "state", "position"], name="task_board_idx"),
            models.Index(fields=["assignee", "state"], name="task_assignee_state_idx"),
            # The board's fingerprint (apps.boards.selectors.team_with_version): the team's
            # newest change is one step down it, and its task count an index-only scan.
            models.Index(fields=["team", "updated_at"], name="task_team_changed_idx"),
            # The Done column's last two weeks, counted without visiting the team's history.
            models.Index(fields=["team", "state", "finished_at"], name="task_team_finished_idx"),
            # A workflow step's tasks created in a period (apps.insight.flow).
            models.Index(fields=["step", "created_at"], name="task_step_created_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("tasks:task_detail", kwargs={"pk": self.pk})

    def refresh_from_db(self, *args, **kwargs) -> None:
        # django-fsm lifts the state field's protection while it reloads, on the field itself,
        # which every thread shares: a second thread reloading at the same moment found it
        # restored by the first and failed ("Direct state modification is not allowed", a
        # 500 on a refused drag under a threaded server). One reload at a time per process.
        with _RELOADING:
            super().refresh_from_db(*args, **kwargs)

    @staticmethod
    def lifecycle_rank():
        """An expression ordering tasks by where they are in the lifecycle, not alphabetically."""
        return models.Case(
            *[models.When(state=s, then=models.Value(i)) for i, s in enumerate(LIFECYCLE_ORDER)],
            output_field=models.IntegerField(),
        )

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_overdue(self) -> bool:
        return bool(self.due_at and self.is_open and self.due_at < timezone.now())

    @property
    def resumes_to(self) -> str:
        """The state `resume` takes a held task back to: the one it was held from."""
        return self.held_from or State.TODO

    @property
    def is_review_step(self) -> bool:
        return self.step_id is not None and self.step.kind == REVIEW_STEP_KIND

    @property
    def is_automated_step(self) -> bool:
        return self.step_id is not None and self.step.kind == AUTOMATED_STEP_KIND

    @property
    def is_external_step(self) -> bool:
        return self.step_id is not None and self.step.kind == EXTERNAL_STEP_KIND

    @property
    def is_subworkflow_step(self) -> bool:
        return self.step_id is not None and self.step.kind == SUBWORKFLOW_STEP_KIND

    def returned_state(self, name: str) -> str:
        """The state a transition whose target is computed leaves this task in."""
        if name == "request_changes":
            return State.DONE if self.is_review_step else State.IN_PROGRESS
        return self.resumes_to

    # --- lifecycle ---------------------------------------------------------------------------
    # The transitions are the one statement of the lifecycle: apps.tasks.services reads each
    # one's target and `custom` (label, the sentence refusing someone who may not take it,
    # button style) in the order they are declared here; the admin (django-fsm-2's
    # FSMAdminMixin) reads `label` and `admin` too.

    @lifecycle(
        source=State.TODO,
        target=State.ASSIGNED,
        permission=may_assign,
        label=_("Assign"),
        refused=_("Only a lead can assign a task to someone else."),
        admin=False,
    )
    def assign(self, *, assignee, by=None, description=None):
        self.assignee = assignee

    @lifecycle(
        source=State.ASSIGNED,
        target=State.TODO,
        permission=may_work,
        label=_("Unassign"),
        refused=_("Only the assignee or a lead can unassign this task."),
    )
    def unassign(self, *, by=None, description=None):
        self.assignee = None

    @lifecycle(
        source=State.ASSIGNED,
        target=State.IN_PROGRESS,
        permission=may_work,
        label=_("Start"),
        refused=_("Only the assignee or a lead can start this task."),
        style="primary",
    )
    def start(self, *, by=None, description=None):
        pass

    @lifecycle(
        source=State.IN_PROGRESS,
        target=State.IN_REVIEW,
        permission=may_work,
        # A workflow step's review is a step of its own (routed on its outcome), not this.
        conditions=[lambda task: task.step_id is None],
        unmet=_(
            "A workflow step is reviewed by the run's own review step, not submitted: "
            "complete it and the run moves on."
        ),
        label=_("Submit for review"),
        refused=_("Only the assignee or a lead can submit this task."),
        style="primary",
    )
    def submit(self, *, by=None, description=None):
        self.outcome = ""

    @lifecycle(
        source=State.IN_PROGRESS,
        target=State.DONE,
        permission=may_work,
        conditions=[lambda task: not task.requires_review and not task.is_review_step],
        unmet=lambda task: REVIEW_DECIDED if task.is_review_step else MUST_BE_REVIEWED,
        label=_("Complete"),
        refused=_("Only the assignee or a lead can complete this task."),
        style="primary",
        admin=False,
    )
    def complete(self, *, outcome=Outcome.DONE, by=None, description=None):
        self.outcome = outcome
        self.finished_at = timezone.now()

    @lifecycle(
        source=DECIDABLE_STATES,
        target=State.DONE,
        permission=may_review,
        conditions=[_decidable],
        unmet=_not_in_review("approve"),
        label=_("Approve"),
        refused=_("Only a reviewer other than the assignee can approve."),
        style="primary",
    )
    def approve(self, *, by=None, description=None):
        self.outcome = Outcome.APPROVED
        self.finished_at = timezone.now()
        if by is not None:
            self.reviewer = by

    @lifecycle(
        source=DECIDABLE_STATES,
        # Back to its assignee for rework; a review step's task is finished by it instead (the
        # run loops back to the work, see returned_state).
        target=RETURN_VALUE(State.IN_PROGRESS, State.DONE),
        permission=may_review,
        conditions=[_decidable],
        unmet=_not_in_review("request changes"),
        label=_("Request changes"),
        refused=_("Only a reviewer other than the assignee can request changes."),
    )
    def request_changes(self, *, by=None, description=None):
        self.outcome = Outcome.CHANGES_REQUESTED
        if by is not None:
            self.reviewer = by
        target = self.returned_state("request_changes")
        if target == State.DONE:
            self.finished_at = timezone.now()
        return target

    @lifecycle(
        source=DECIDABLE_STATES,
        target=State.DONE,
        permission=may_review,
        conditions=[_decidable],
        unmet=_not_in_review("reject"),
        label=_("Reject"),
        refused=_("Only a reviewer other than the assignee can reject."),
        style="danger",
    )
    def reject(self, *, by=None, description=None):
        self.outcome = Outcome.REJECTED
        self.finished_at = timezone.now()
        if by is not None:
            self.reviewer = by

    @lifecycle(
        source=list(OPEN_STATES),
        target=State.ON_HOLD,
        permission=may_work,
        label=_("Put on hold"),
        refused=_("Only the assignee or a lead can put this on hold."),
    )
    def hold(self, *, by=None, description=None):
        self.held_from = self.state

    @lifecycle(
        source=State.ON_HOLD,
        target=RETURN_VALUE(*OPEN_STATES),
        permission=may_work,
        label=_("Resume"),
        refused=_("Only the assignee or a lead can resume this task."),
    )
    def resume(self, *, by=None, description=None):
        previous = self.resumes_to
        self.held_from = ""
        return previous

    @lifecycle(
        source=list(UNFINISHED_STATES),
        target=State.CANCELLED,
        permission=may_cancel,
        label=_("Cancel"),
        refused=_("Only a lead or the task's creator can cancel it."),
        style="danger",
    )
    def cancel(self, *, by=None, description=None):
        self.finished_at = timezone.now()


class ChecklistItem(models.Model):
    """One of a task's completion criteria. A required one must be ticked before the work is
    submitted or completed (apps.tasks.services refuses it, naming the open ones)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="checklist")
    text = models.CharField(max_length=300)
    done = models.BooleanField(default=False)
    required = models.BooleanField(
        default=False, help_text=_("The work can't be submitted or completed until it is ticked.")
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text


class Comment(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="comments"
    )
    body = models.TextField(max_length=5000, validators=[MaxLengthValidator(5000)])
    # The body as sanitised HTML (apps.tasks.markdown), rendered once when the comment is
    # saved: a task's history shows every comment on each drawer open, so it is stored.
    body_html = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.author}: {self.body[:40]}"

    @property
    def html(self) -> str:
        """The rendered body; a comment saved before rendering existed is rendered now."""
        if self.body_html:
            return self.body_html
        from .markdown import render

        return render(self.body, link=lambda username: None).html


class TaskWatch(models.Model):
    """Someone's explicit choice to hear, or not, about a task's comments and decisions.

    Commenting writes a watching row; the assignee and the creator watch without one. A row
    with watching=False is an unwatch, which nothing automatic overrides (commenting again
    does not re-subscribe): only the watch button does.
    """

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="watches")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="task_watches"
    )
    watching = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "user"], name="one_watch_per_person_and_task")
        ]

    def __str__(self) -> str:
        return f"{self.user} {'watches' if self.watching else 'unwatched'} {self.task_id}"


class _AttachmentsStorage(Storage):
    """settings.STORAGES["attachments"], looked up on every use: a FileField keeps the storage
    it is given at import, and tests and deployments point this one elsewhere."""

    def __getattribute__(self, name):
        if name.startswith("__"):
            return object.__getattribute__(self, name)
        return getattr(storages["attachments"], name)


def attachments_storage() -> Storage:
    """The attachments' storage (a callable, so migrations don't record a backend)."""
    return _AttachmentsStorage()


def attachment_path(attachment: "Attachment", filename: str) -> str:
    """Where an attachment's bytes are stored: under its task, by a random name. The name the
    uploader gave is kept in `name`, for showing, never for a path."""
    import uuid

    return f"tasks/{attachment.task_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    """A file attached to a task, or to one of its comments. Served only through
    apps.tasks.views.attachment_download, to people who may see the task.

    Removing one deletes its bytes but keeps the row (`removed_at`), so the task's history
    still says who attached and who removed what.
    """

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="attachments")
    comment = models.ForeignKey(
        Comment, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    file = models.FileField(storage=attachments_storage, upload_to=attachment_path, max_length=200)
    name = models.CharField(max_length=200, help_text=_("The file's name, sanitised."))
    content_type = models.CharField(max_length=100, help_text=_("As sniffed from the content."))
    size = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("tasks:attachment", args=[self.pk])

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


# The states a lead may put a work-in-progress limit on: the active ones (To do and Done are
# queues, not work).
LIMITABLE_STATES = ACTIVE_STATES


class WipLimits(models.Model):
    """A team's work-in-progress limits: the most tasks each active column may hold.

    Leads set them on the board, but every transition checks them (apps.tasks.limits), so they
    live here, in the lowest app that enforces them. Hard: a transition into a full column is
    refused. Soft: it goes ahead with a warning. Work a reviewer sends back is never refused.
    """

    team = models.OneToOneField("people.Team", on_delete=models.CASCADE, related_name="wip_limits")
    limits = models.JSONField(
        default=dict, blank=True, help_text=_("Column state → most tasks allowed in it.")
    )
    soft = models.BooleanField(
        default=False,
        help_text=_("Soft: moving into a full column warns but goes ahead. Hard: it is refused."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "WIP limits"
        verbose_name_plural = "WIP limits"

    def __str__(self) -> str:
        return f"WIP limits · {self.team}"

    def clean(self) -> None:
        for state, limit in (self.limits or {}).items():
            if state not in LIMITABLE_STATES:
                raise ValidationError(_("WIP limits apply to Assigned, In progress and In review."))
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
                raise ValidationError(_("A WIP limit is a whole number of cards, at least 1."))

    def limit_for(self, state: str) -> int | None:
        return (self.limits or {}).get(state)


class TaskChange(models.Model):
    """One field of a task changed by an edit: who, when, and the old and new value as people
    read them ("3 Dec" → "5 Dec"), kept as text so the history says what was shown then even
    after a skill or person is renamed. One row per changed field; the transition log
    (django-fsm-log) keeps the state changes, and the history shows both in time order."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="changes")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    field = models.CharField(max_length=40)
    old = models.TextField(blank=True)
    new = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["task", "at"], name="taskchange_task_at_idx")]

    def __str__(self) -> str:
        return f"{self.field}: {self.old} → {self.new}"


class Escalation(models.Model):
    """One stage of a task's SLA escalation, done once: the database decides "once".

    The unique (task, stage) row is written in the same transaction as the stage's notices and
    re-assignment, so a beat running twice, or two beats at the same moment, escalate a task's
    stage once: the second finds the row (or its insert is refused) and does nothing. `detail`
    is the sentence the task's history shows ("Re-assigned from Grace to Katherine: …").

    No version trigger of its own: every row is written together with the task's `escalation`
    columns, whose change bumps the team's counter like any task change.
    """

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="escalations")
    stage = models.CharField(max_length=20, choices=EscalationStage.choices)
    at = models.DateTimeField(default=timezone.now)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "stage"], name="escalation_once_per_stage")
        ]

    def __str__(self) -> str:
        return f"{self.task_id}: {self.stage}"
