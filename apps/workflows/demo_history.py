"""Demo history for insight: ten weeks of finished runs and stand-alone tasks, backdated.

Written as the services would have written them (each task's state, iteration, run, step,
outcome, reviewer and finished_at, and one StateLog row per transition with its own time),
but in a few bulk inserts, so `make run` stays fast and nothing is notified, e-mailed or
enqueued. Every historic task is finished: none counts against anyone's capacity, none is a
candidate for the assigner or the sweepers. Today's board keeps the in-flight runs of
apps.workflows.demo. Idempotent: a team whose history exists gets none again.

Shape, so that every chart has something to show: one step of each template waits much
longer than the others (the ML review waits for days: the bottleneck), evaluate and staging
fail at a realistic rate and send the run back to train (iterations 2 and 3), some steps run
over their SLA, throughput varies by week, one person takes most of the training (overloaded
for a while) and another hardly any (idle).
"""

import random
from datetime import timedelta

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django_fsm_log.models import StateLog

from apps.people.models import Membership
from apps.people.system import automation_user
from apps.tasks.models import Outcome, State, Task

from . import fields, routing
from .models import Route, Run, RunStatus, StepKind

WEEKS = 10
# The marker in a history run's inputs (how a rerun finds it).
MARK = "demo_history"
# Runs started per week, per template (throughput that varies by week).
PER_WEEK = {
    "ml-deployment": [2, 3, 1, 4, 2, 3, 2, 1, 3, 2],
    "ci-cd-release": [3, 2, 4, 2, 3, 1, 3, 2, 2, 3],
    "content-publishing": [1, 2, 1, 1, 2, 1, 2, 1, 1, 2],
    "support-escalation": [4, 3, 5, 2, 4, 3, 6, 3, 2, 4],
}
# (waiting hours, working hours) per step key: a log-normal's median; the rest default.
TIMES = {
    "review": (80, 3),  # ML peer review waits days: the bottleneck
    "code-review": (20, 2),
    "approve": (30, 1),
    "train": (6, 30),
    "evaluate": (4, 10),
    "edit": (10, 8),
    "draft": (4, 40),
    "l2": (12, 10),
}
DEFAULT_TIMES = (2, 4)
# Chance of each non-default outcome (else: the step's first "good" outcome).
FAILS = {"evaluate": 0.2, "staging": 0.12, "integration": 0.15, "l1": 0.35, "smoke": 0.05}
SENT_BACK = {"review": 0.15, "code-review": 0.2, "approve": 0.2}
# Who the picker favours (weight) among those who can do a step; unlisted: 1.
WEIGHTS = {"alan": 6, "john": 0.2}
GOOD = (Outcome.DONE, Outcome.PASSED, Outcome.APPROVED)


def _hours(rng: random.Random, median: float) -> timedelta:
    return timedelta(hours=max(0.1, median * rng.lognormvariate(0, 0.6)))


def _doers(team, step, members):
    if step.kind in (StepKind.AUTOMATED, StepKind.EXTERNAL):
        return None
    able = [
        (m.user, WEIGHTS.get(m.user.username, 1))
        for m in members
        if step.required_skill_id is None
        or m.levels.get(step.required_skill_id, 0) >= step.min_level
    ]
    return able or [(m.user, 1) for m in members]


def _outcome(rng, step) -> str:
    outcomes = step.outcomes
    if step.kind == StepKind.REVIEW:
        return (
            Outcome.CHANGES_REQUESTED
            if rng.random() < SENT_BACK.get(step.key, 0)
            else Outcome.APPROVED
        )
    if Outcome.FAILED in outcomes:
        return Outcome.FAILED if rng.random() < FAILS.get(step.key, 0.05) else Outcome.PASSED
    return Outcome.DONE


def _outputs(rng, step) -> dict:
    """What the step recorded: the ML evaluation's accuracy falls short of its 0.9 threshold
    about as often as FAILS says, so the history loops back on the condition as runs do."""
    values = {}
    for spec in fields.clean_spec(step.output_fields)[0]:
        if spec["type"] == "number":
            low = rng.random() < FAILS.get(step.key, 0.05)
            values[spec["name"]] = round(
                rng.uniform(0.8, 0.89) if low else rng.uniform(0.9, 0.97), 3
            )
    return values


def _walk(rng, task: Task, step, start, doer, bot, ct_id) -> tuple[list[dict], object]:
    """Fill `task` as finished and return its log rows and the time it finished."""
    waiting, working = TIMES.get(step.key, DEFAULT_TIMES)
    automated = step.kind in (StepKind.AUTOMATED, StepKind.EXTERNAL)
    who = bot if automated else doer
    assigned_at = start + (timedelta(0) if automated else _hours(rng, min(waiting, 2) / 2))
    started_at = start + (timedelta(seconds=1) if automated else _hours(rng, waiting))
    started_at = max(started_at, assigned_at + timedelta(minutes=5))
    finished = started_at + (_hours(rng, 0.3) if automated else _hours(rng, working))
    outcome = _outcome(rng, step)
    if step.kind == StepKind.REVIEW:
        name = {Outcome.APPROVED: "approve", Outcome.CHANGES_REQUESTED: "request_changes"}[outcome]
        task.reviewer = who
    else:
        name = "complete"
    task.assignee, task.outcome, task.finished_at, task.created_at = who, outcome, finished, start
    rows = [
        ("assign", State.TODO, State.ASSIGNED, None if not automated else bot, assigned_at),
        ("start", State.ASSIGNED, State.IN_PROGRESS, who, started_at),
        (name, State.IN_PROGRESS, State.DONE, who, finished),
    ]
    log = [
        {
            "timestamp": at,
            "by_id": by.pk if by else None,
            "source_state": source,
            "state": target,
            "transition": tname,
            "content_type_id": ct_id,
            "description": "Demo history." if tname == name else None,
        }
        for tname, source, target, by, at in rows
    ]
    return log, finished


def seed(*, teams, users, templates, **_) -> dict:
    rng = random.Random(13)
    bot = automation_user()
    ct_id = ContentType.objects.get_for_model(Task).pk
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    origin = now - timedelta(weeks=WEEKS)
    for team in teams.values():
        if Run.objects.filter(team=team, inputs__has_key=MARK).exists():
            continue
        members = list(Membership.objects.filter(team=team).select_related("user"))
        for m in members:
            m.levels = {held.skill_id: held.level for held in m.user.skills.all()}
        lead = next((m.user for m in members if m.role == "lead"), members[0].user)
        planned = []  # (run, [(task, log rows)])
        for slug, per_week in PER_WEEK.items():
            template = templates.get(slug)
            if template is None or template.team_id != team.pk:
                continue
            steps = {s.pk: s for s in template.steps.select_related("required_skill")}
            start_step = next(s for s in steps.values() if s.is_start)
            routes = list(Route.objects.filter(template=template))
            defaults = fields.clean_values(fields.clean_spec(template.input_fields)[0], {})[0]
            for week, count in enumerate(per_week):
                for n in range(count):
                    at = origin + timedelta(weeks=week, hours=rng.uniform(0, 120))
                    run = Run(
                        template=template,
                        team=team,
                        title=f"{template.name} #{week + 1}.{n + 1}",
                        owner=lead,
                        inputs={MARK: True, **defaults},
                        started_at=at,
                    )
                    done, step, iteration, tasks = at, start_step, {}, []
                    while step is not None:
                        iteration[step.pk] = iteration.get(step.pk, 0) + 1
                        if iteration[step.pk] > min(step.max_iterations, 3):
                            run.status, run.failure_reason = (
                                RunStatus.FAILED,
                                (f"{step.name} was reached too often."),
                            )
                            break
                        doers = _doers(team, step, members)
                        doer = rng.choices(*zip(*doers, strict=True))[0] if doers else None
                        task = Task(
                            team=team,
                            title=f"{step.name}: {run.title}",
                            required_skill=step.required_skill,
                            min_level=step.min_level,
                            run=run,
                            step=step,
                            iteration=iteration[step.pk],
                            state=State.DONE,
                            created_by=lead,
                        )
                        log, done = _walk(rng, task, step, done, doer, bot, ct_id)
                        tasks.append((task, log))
                        task.outputs = _outputs(rng, step)
                        context = {
                            **routing.flatten("inputs.", run.inputs),
                            **routing.flatten("", task.outputs),
                        }
                        choice = routing.choose(
                            [r for r in routes if r.from_step_id == step.pk],
                            outcome=task.outcome,
                            context=context,
                        )
                        step = steps.get(choice.routes[0].to_step_id) if choice.routes else None
                    else:
                        run.status = RunStatus.COMPLETED
                    if done > now:
                        continue  # would finish in the future: today's demo runs cover that
                    run.finished_at = done
                    planned.append((run, tasks))
        # Stand-alone tasks, finished, outside any run.
        loose = []
        for i in range(6 * WEEKS):
            at = origin + timedelta(hours=rng.uniform(0, WEEKS * 7 * 24 - 72))
            doer = rng.choices(members, [WEIGHTS.get(m.user.username, 1) for m in members])[0].user
            task = Task(
                team=team, title=f"Chore {i + 1}", state=State.DONE, created_by=lead, created_at=at
            )
            assigned = at + _hours(rng, 8)
            started = assigned + _hours(rng, 4)
            finished = started + _hours(rng, 10)
            task.assignee, task.outcome, task.finished_at = doer, Outcome.DONE, finished
            log = [
                {
                    "timestamp": t,
                    "by_id": b.pk,
                    "source_state": s,
                    "state": g,
                    "transition": n,
                    "content_type_id": ct_id,
                    "description": None,
                }
                for n, s, g, b, t in (
                    ("assign", State.TODO, State.ASSIGNED, lead, assigned),
                    ("start", State.ASSIGNED, State.IN_PROGRESS, doer, started),
                    ("complete", State.IN_PROGRESS, State.DONE, doer, finished),
                )
            ]
            loose.append((task, log))
        runs = Run.objects.bulk_create([run for run, _ in planned])
        all_tasks = [pair for _, tasks in planned for pair in tasks] + loose
        for run, tasks in zip(runs, (t for _, t in planned), strict=True):
            for task, _log in tasks:
                task.run = run
        Task.objects.bulk_create([task for task, _ in all_tasks], batch_size=500)
        StateLog.objects.bulk_create(
            [StateLog(object_id=task.pk, **row) for task, log in all_tasks for row in log],
            batch_size=500,
        )
    return {}
