"""Demo workflows: the five shipped templates and runs in several stages, moved there through
the services (so tasks, history and alerts are real). Safe to run again."""

from apps.assignment.services.single import assign
from apps.tasks import services as task_services
from apps.tasks.demo import tick_every_item
from apps.tasks.models import Outcome, State, Task

from . import services
from .definitions import ALL
from .exchange import import_template
from .models import Run, WorkflowTemplate

GOOD = {"model": "sentiment-v3", "metrics": {"auc": 0.93}, "thresholds": {"auc": 0.85}}
CANCEL = ("", "cancel the run")
# Evaluate records the model's accuracy; the run's threshold (an input) is 0.9 by default.
PASSES, BELOW = {"accuracy": 0.94}, {"accuracy": 0.82}

# run title → (template slug, owner, steps to finish in order as (step key, outcome or the
# step's outputs))
RUNS = {
    "data-science": [
        ("churn-v5", "ml-deployment", "ada", {"model": "churn-v5"}, []),
        (
            "fraud-v2",
            "ml-deployment",
            "ada",
            {"model": "fraud-v2"},
            [("train", "done"), ("evaluate", PASSES)],
        ),
        (
            "ranker-v7 (looped back twice)",
            "ml-deployment",
            "ada",
            {"model": "ranker-v7"},
            [
                ("train", "done"),
                ("evaluate", BELOW),
                ("train", "done"),
                ("evaluate", PASSES),
                ("review", "changes_requested"),
            ],
        ),
        (
            "sentiment-v3",
            "ml-deployment",
            "ada",
            GOOD,
            [
                ("train", "done"),
                ("evaluate", PASSES),
                ("review", "approved"),
                ("staging", "passed"),
            ],
        ),
        (
            "pricing-v1 (below threshold on staging)",
            "ml-deployment",
            "ada",
            {**GOOD, "model": "pricing-v1", "metrics": {"auc": 0.71}},
            [
                ("train", "done"),
                ("evaluate", PASSES),
                ("review", "approved"),
                ("staging", "failed"),
            ],
        ),
        (
            "recsys-v2 (waiting for CI)",
            "ml-deployment",
            "ada",
            {**GOOD, "model": "recsys-v2"},
            [("train", "done"), ("evaluate", PASSES), ("review", "approved")],
        ),
        ("churn-v4 (abandoned)", "ml-deployment", "ada", {"model": "churn-v4"}, [CANCEL]),
    ],
    "platform": [
        (
            "Onboard Ada Yonath",
            "employee-onboarding",
            "linus",
            {},
            [("intake", "done"), ("accounts", "done")],
        ),
        ("Release 2.5", "ci-cd-release", "linus", {}, [("build", "done")]),
        (
            "Blog: what's new in 2.5",
            "content-publishing",
            "linus",
            {},
            [("draft", "done"), ("edit", "done")],
        ),
        (
            "Invoices export fails",
            "support-escalation",
            "linus",
            {},
            [("triage", "done"), ("l1", "failed")],
        ),
    ],
}


# What the demo's CI job says about staging, by outcome: (message, link to the job).
CI_REPORTS = {
    Outcome.PASSED: ("Integration tests passed (212 of 212).", "https://ci.example.com/jobs/4711"),
    Outcome.FAILED: (
        "Integration tests failed: AUC 0.71 on staging, below the 0.85 threshold.",
        "https://ci.example.com/jobs/4712",
    ),
}


def _finish(run: Run, key: str, outcome: str | dict, lead) -> None:
    task = Task.objects.get(run=run, step__key=key, state__in=["todo", "assigned", "in_progress"])
    if task.is_external_step:
        message, link = CI_REPORTS[outcome]
        services.report_external_result(
            task=task,
            outcome=outcome,
            message=message,
            link=link,
            caller=services.TeamCaller(team=run.team, label="CI (demo)"),
        )
        return
    if task.state == State.TODO:
        # Steps left for a lead to pick, or nobody free when the run got there: the engine
        # picks now, as a lead pressing "auto-assign" would.
        task = assign(task=task, by=lead)
        if task is None:
            raise RuntimeError(f"Demo: nobody can take step {key!r} of {run.title!r}.")
    if task.state == State.ASSIGNED:
        task = task_services.start(task=task, by=task.assignee)
    if not task.is_review_step or outcome == Outcome.APPROVED:
        # Done work met its criteria (a review sending work back leaves its items as they are).
        tick_every_item(task=task, by=task.assignee)
    if task.is_review_step:
        decide = {
            Outcome.APPROVED: task_services.approve,
            Outcome.CHANGES_REQUESTED: task_services.request_changes,
            Outcome.REJECTED: task_services.reject,
        }[outcome]
        decide(task=task, by=task.assignee, note="Demo.")
        return
    if isinstance(outcome, dict):
        services.finish_step(task=task, by=task.assignee, outputs=outcome, note="Demo.")
        return
    task_services.complete(task=task, by=task.assignee, outcome=outcome, note="Demo.")


def seed(*, teams, users, **_) -> dict:
    templates = {}
    for definition in ALL:
        existing = WorkflowTemplate.objects.filter(
            team__slug=definition["team"], slug=definition["slug"], is_current=True
        ).first()
        templates[definition["slug"]] = existing or import_template(definition)
    for team_slug, rows in RUNS.items():
        team = teams[team_slug]
        if Run.objects.filter(team=team).exists():
            continue
        for title, slug, owner, inputs, path in rows:
            lead = users[owner]
            run = services.start_run(
                template=templates[slug], title=title, owner=lead, by=lead, inputs=inputs
            )
            for key, outcome in path:
                if (key, outcome) == CANCEL:
                    services.cancel_run(run=run, by=lead, note="Superseded by churn-v5.")
                else:
                    _finish(run, key, outcome, lead)
    return {"templates": templates}
