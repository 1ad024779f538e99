"""Demo tasks in every lifecycle state, moved there through the services (so history is real)."""

from datetime import timedelta

from django.utils import timezone

from . import services
from .models import Priority, Task

# title, skill, review?, path of (verb, actor) after creation; actor "assignee"/"reviewer"/"lead"
DATA_SCIENCE = [
    ("Clean the churn dataset", "data-eng", False, "katherine", []),
    ("Label 500 support tickets", "data-eng", False, None, []),
    ("Benchmark tokenizer variants", "python", False, None, []),
    ("Write model card for churn-v3", "writing", True, None, []),
    ("Feature store backfill", "data-eng", False, "katherine", ["assign"]),
    ("Hyper-parameter sweep for ranker", "ml-training", True, "alan", ["assign", "start"]),
    ("Drift dashboard for fraud model", "python", False, "grace", ["assign", "start"]),
    ("Evaluate churn-v3 on holdout", "ml-training", True, "alan", ["assign", "start", "submit"]),
    ("Notebook: cohort retention", "python", True, "katherine", ["assign", "start", "submit"]),
    (
        "Retrain sentiment model",
        "ml-training",
        True,
        "ada",
        ["assign", "start", "submit", "approve"],
    ),
    ("Dedupe customer table", "data-eng", False, "katherine", ["assign", "start", "complete"]),
    (
        "Ablation study: no price feature",
        "ml-training",
        True,
        "alan",
        ["assign", "start", "submit", "reject"],
    ),
    (
        "Re-run fairness audit",
        "python",
        True,
        "alan",
        ["assign", "start", "submit", "request_changes"],
    ),
    ("Port pipeline to Python 3.12", "python", False, "margaret", ["assign", "start", "hold"]),
    ("GPU quota request", "python", False, None, ["hold"]),
    ("Old A/B analysis", "python", False, None, ["cancel"]),
    ("Explainability report", "writing", True, None, []),
    ("Embedding cache warm-up", "python", False, "grace", ["assign"]),
    ("Annotate edge cases", "data-eng", False, None, []),
    ("Train baseline for new market", "ml-training", False, "katherine", ["assign"]),
]

PLATFORM = [
    ("Upgrade PostgreSQL to 17", "devops", True, "ken", ["assign", "start"]),
    ("Rotate TLS certificates", "devops", False, "radia", ["assign"]),
    ("Flaky test: test_checkout", "python", True, "guido", ["assign", "start", "submit"]),
    ("Release 2.4 notes", "writing", True, "joan", ["assign", "start", "submit", "approve"]),
    ("Add dark mode to settings", "frontend", True, "guido", ["assign", "start"]),
    ("Triage: login loop on Safari", "support", False, None, []),
    ("Terraform module for queues", "devops", False, None, []),
    ("Docs: on-call handbook", "writing", True, None, []),
    ("Billing export times out", "support", False, "radia", ["assign", "start", "complete"]),
    ("Remove legacy cron host", "devops", False, "ken", ["assign", "start", "complete"]),
    ("Switch CI cache to S3", "devops", False, None, ["cancel"]),
    (
        "API rate-limit headers",
        "python",
        True,
        "barbara",
        ["assign", "start", "submit", "request_changes"],
    ),
    ("Audit IAM roles", "devops", True, "ken", ["assign", "start", "hold"]),
    ("Status page copy", "editing", False, None, []),
    ("Bump Django to 6.1", "python", True, "guido", ["assign", "start", "submit", "reject"]),
    ("Warm standby for Redis", "devops", False, None, []),
    ("Customer webhook retries", "python", False, "barbara", ["assign"]),
    ("Support macro cleanup", "support", False, "joan", ["assign", "start"]),
    ("Nightly backup restore drill", "devops", False, None, []),
    ("Search box autocomplete", "frontend", True, None, []),
]

# Finished demo work met its criteria: ticked by whoever finishes it, through the service, so
# a Done card says ☑ 2/2 (required items would refuse the finish otherwise).
FINISHING = ("submit", "complete", "approve")


def tick_every_item(*, task: Task, by) -> None:
    for item in task.checklist.filter(done=False):
        services.toggle_checklist_item(item=item, by=by, done=True)


REVIEWER = {"data-science": "grace", "platform": "barbara"}
LEAD = {"data-science": "ada", "platform": "linus"}


def seed(*, teams, users, skills, **_) -> int:
    created = 0
    now = timezone.now()
    for team_slug, rows in (("data-science", DATA_SCIENCE), ("platform", PLATFORM)):
        team = teams[team_slug]
        if Task.objects.filter(team=team).exists():
            continue
        lead = users[LEAD[team_slug]]
        for i, (title, skill, review, assignee, path) in enumerate(rows):
            task = services.create_task(
                team=team,
                title=title,
                by=lead,
                description=f"Demo task: {title.lower()}.",
                required_skill=skills[skill],
                requires_review=review,
                priority=[Priority.NORMAL, Priority.HIGH, Priority.LOW, Priority.URGENT][i % 4],
                due_at=now + timedelta(days=(i % 9) - 2, hours=i),
                checklist=["Inputs checked", ("Result recorded", True)] if i % 3 == 0 else None,
            )
            worker = users[assignee] if assignee else lead
            reviewer = users[REVIEWER[team_slug]]
            if reviewer == worker:
                reviewer = lead
            for verb in path:
                if verb in FINISHING:
                    tick_every_item(task=task, by=worker)
                if verb == "assign":
                    task = services.assign_to(task=task, assignee=worker, by=lead)
                elif verb in ("approve", "reject", "request_changes"):
                    task = services.perform(
                        task=task, action=verb, by=reviewer, note="Looked at the numbers."
                    )
                elif verb == "complete":
                    task = services.complete(task=task, by=worker, outcome="done")
                elif verb in ("cancel",):
                    task = services.cancel(task=task, by=lead, note="No longer needed.")
                else:
                    task = services.perform(task=task, action=verb, by=worker if assignee else lead)
            if i % 4 == 1:
                services.add_comment(task=task, author=lead, body="Let me know if you get stuck.")
            created += 1
    return created
