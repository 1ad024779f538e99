"""Runs with known timestamps for the insight tests: rows written as they would have been, with
backdated transition-log entries (the figures are read from the log, so this is what they see).

The hand-computed fixture (hours after `t0`):

    run 1: draft 0→start 1→done 3;  review 3→start 5→approved 6.            completed at 6
    run 2: draft 0→2→4;  review 4→8→changes requested 9;  draft#2 9→10→11;
           review#2 11→12→approved 13.                                      completed at 13
    run 3: draft 0→3→6;  review 6→10→approved 12.                           completed at 12

Review has a 3 h SLA (due = created + 3 h).
"""

from datetime import datetime, timedelta

from django.contrib.contenttypes.models import ContentType
from django_fsm_log.models import StateLog

from apps.tasks.models import State, Task
from apps.workflows.models import Route, Run, RunStatus, Step, StepKind, WorkflowTemplate

H = timedelta(hours=1)


def review_flow(*, team, slug="review-flow") -> WorkflowTemplate:
    template = WorkflowTemplate.objects.create(team=team, name="Review flow", slug=slug)
    draft = Step.objects.create(template=template, key="draft", name="Draft", is_start=True)
    review = Step.objects.create(
        template=template,
        key="review",
        name="Review",
        kind=StepKind.REVIEW,
        position=1,
        sla_hours=3,
    )
    Route.objects.create(template=template, from_step=draft, outcome="done", to_step=review)
    Route.objects.create(template=template, from_step=review, outcome="approved", to_step=None)
    Route.objects.create(template=template, from_step=review, outcome="rejected", to_step=None)
    Route.objects.create(
        template=template, from_step=review, outcome="changes_requested", to_step=draft
    )
    return template


def add_run(*, template, owner, t0: datetime, tasks: list[tuple], title="run") -> Run:
    """tasks: (step key, iteration, created h, started h | None, finished h | None, outcome)."""
    steps = {s.key: s for s in template.steps.all()}
    ends = [row[4] for row in tasks if row[4] is not None]
    open_ = any(row[4] is None for row in tasks)
    run = Run.objects.create(
        template=template,
        team=template.team,
        owner=owner,
        title=title,
        started_at=t0,
        status=RunStatus.RUNNING if open_ else RunStatus.COMPLETED,
        finished_at=None if open_ else t0 + max(ends) * H,
    )
    kind = ContentType.objects.get_for_model(Task)
    logs = []
    for key, iteration, created, started, finished, outcome in tasks:
        step = steps[key]
        created_at = t0 + created * H
        task = Task.objects.create(
            team=template.team,
            title=f"{title} {key} #{iteration}",
            run=run,
            step=step,
            iteration=iteration,
            assignee=owner,
            created_at=created_at,
            state=State.DONE if finished is not None else State.IN_PROGRESS,
            outcome=outcome if finished is not None else "",
            finished_at=t0 + finished * H if finished is not None else None,
            due_at=created_at + step.sla_hours * H if step.sla_hours else None,
        )
        marks = [(State.ASSIGNED, "todo", "assign", created_at)]
        if started is not None:
            marks.append((State.IN_PROGRESS, "assigned", "start", t0 + started * H))
        if finished is not None:
            marks.append((State.DONE, "in_progress", "complete", t0 + finished * H))
        logs += [
            StateLog(
                content_type=kind,
                object_id=task.pk,
                state=state,
                source_state=source,
                transition=name,
                timestamp=at,
                by=owner,
            )
            for state, source, name, at in marks
        ]
    StateLog.objects.bulk_create(logs)
    return run


def hand_computed(*, team, owner, t0: datetime) -> WorkflowTemplate:
    template = review_flow(team=team)
    add_run(
        template=template,
        owner=owner,
        t0=t0,
        title="one",
        tasks=[
            ("draft", 1, 0, 1, 3, "done"),
            ("review", 1, 3, 5, 6, "approved"),
        ],
    )
    add_run(
        template=template,
        owner=owner,
        t0=t0,
        title="two",
        tasks=[
            ("draft", 1, 0, 2, 4, "done"),
            ("review", 1, 4, 8, 9, "changes_requested"),
            ("draft", 2, 9, 10, 11, "done"),
            ("review", 2, 11, 12, 13, "approved"),
        ],
    )
    add_run(
        template=template,
        owner=owner,
        t0=t0,
        title="three",
        tasks=[
            ("draft", 1, 0, 3, 6, "done"),
            ("review", 1, 6, 10, 12, "approved"),
        ],
    )
    return template
