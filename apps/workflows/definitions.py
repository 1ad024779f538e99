"""The five shipped workflow templates, as import documents (see exchange.py).

The ML deployment is Relay's worked example (README, Workflows): train → evaluate → peer review →
staging tests [external: the CI job reports] → deploy [automated] → END, every failure looping
back to train. Evaluate records the model's `accuracy`; the run goes on to peer review only if
`accuracy >= inputs.threshold` (the run's input, 0.9 unless the starter says otherwise), else
back to train, with an alert.

Every template here runs end to end from its start form's defaults (tests/workflows/
test_shipped_templates.py drives each).
"""


def _step(key, name, **fields):
    return {"key": key, "name": name, **fields}


def _required(text):
    """A checklist item the task can't be submitted or completed without ticking."""
    return {"text": text, "required": True}


def _route(from_key, outcome, to_key, condition="", position=0):
    route = {"from": from_key, "outcome": outcome, "to": to_key}
    if condition or position:
        route |= {"condition": condition, "position": position}
    return route


def _field(name, kind, label, **options):
    return {"name": name, "type": kind, "label": label, "required": False, **options}


ML_DEPLOYMENT = {
    "format": "relay.workflow/1",
    "team": "data-science",
    "slug": "ml-deployment",
    "name": "ML model deployment",
    "description": "Train, evaluate, peer-review, test on staging and deploy a model.",
    "input_fields": [
        _field("model", "text", "Model name", default="churn-model"),
        _field("threshold", "number", "Accuracy threshold", default=0.9),
    ],
    "steps": [
        _step(
            "train",
            "Train model",
            is_start=True,
            required_skill="ml-training",
            min_level=3,
            instructions="Train the model on the current training snapshot.",
            inputs="Training data snapshot, feature list.",
            outputs="Model artefact and its training report.",
            checklist=[_required("Data snapshot recorded"), "Hyper-parameters logged"],
            sla_hours=48,
        ),
        _step(
            "evaluate",
            "Evaluate",
            required_skill="ml-training",
            min_level=3,
            instructions=(
                "Evaluate on the hold-out set and record the accuracy: at or above the run's "
                "threshold it goes to peer review, below it back to training."
            ),
            inputs="Model artefact.",
            outputs="Hold-out accuracy.",
            output_fields=[_field("accuracy", "number", "Accuracy", required=True)],
            checklist=[
                _required("Hold-out metrics recorded"),
                _required("Compared with production"),
            ],
            sla_hours=24,
        ),
        _step(
            "review",
            "Peer review",
            kind="review",
            required_skill="ml-review",
            min_level=3,
            instructions="Review the training code, data and metrics (never your own work).",
            checklist=["Code read", "Metrics plausible", "Model card updated"],
            sla_hours=24,
        ),
        _step(
            "staging",
            "Staging integration tests",
            kind="external",
            system="CI",
            sla_hours=6,
            instructions=(
                "The CI job runs the integration tests against staging and reports the result "
                "with scripts/report-step; no report within 6 hours fails the step."
            ),
        ),
        _step(
            "deploy",
            "Deploy",
            kind="automated",
            action="apps.workflows.actions.deploy_model",
            instructions="Runs automatically: records the deployment.",
        ),
    ],
    "routes": [
        _route("train", "done", "evaluate"),
        _route("evaluate", "done", "review", "accuracy >= inputs.threshold", 0),
        _route("evaluate", "done", "train", "", 1),
        _route("review", "approved", "staging"),
        _route("review", "changes_requested", "train"),
        _route("review", "rejected", "train"),
        _route("staging", "passed", "deploy"),
        _route("staging", "failed", "train"),
        _route("deploy", "passed", None),
        _route("deploy", "failed", "train"),
    ],
}

CI_CD_RELEASE = {
    "format": "relay.workflow/1",
    "team": "platform",
    "slug": "ci-cd-release",
    "name": "CI/CD release",
    "description": "Build, review, test and ship a release.",
    # The integration tests' action checks each min_<metric> against <metric>
    # (actions.run_staging_tests); the defaults are a passing build.
    "input_fields": [
        _field("version", "text", "Version", default="1.0.0"),
        _field("coverage", "number", "Test coverage of the build", default=0.9),
        _field("min_coverage", "number", "Minimum coverage", default=0.8),
    ],
    "steps": [
        _step(
            "build",
            "Build release candidate",
            is_start=True,
            required_skill="python",
            min_level=3,
            outputs="Tagged build",
            checklist=[_required("Changelog updated"), _required("Version bumped")],
            sla_hours=24,
        ),
        _step(
            "code-review",
            "Code review",
            kind="review",
            required_skill="code-review",
            min_level=3,
            sla_hours=24,
        ),
        _step(
            "integration",
            "Integration tests",
            kind="automated",
            action="apps.workflows.actions.run_staging_tests",
        ),
        _step(
            "smoke",
            "Smoke test on staging",
            manual_outcomes="pass_fail",
            required_skill="devops",
            min_level=3,
            checklist=[_required("Login works"), _required("Checkout works")],
            sla_hours=8,
        ),
        _step(
            "release",
            "Release to production",
            kind="automated",
            action="apps.workflows.actions.deploy_model",
        ),
    ],
    "routes": [
        _route("build", "done", "code-review"),
        _route("code-review", "approved", "integration"),
        _route("code-review", "changes_requested", "build"),
        _route("code-review", "rejected", None),
        _route("integration", "passed", "smoke"),
        _route("integration", "failed", "build"),
        _route("smoke", "passed", "release"),
        _route("smoke", "failed", "build"),
        _route("release", "passed", None),
        _route("release", "failed", "build"),
    ],
}

CONTENT_PUBLISHING = {
    "format": "relay.workflow/1",
    "team": "platform",
    "slug": "content-publishing",
    "name": "Content publishing",
    "description": "Draft → edit → approve → publish.",
    "steps": [
        _step(
            "draft",
            "Draft",
            is_start=True,
            required_skill="writing",
            min_level=2,
            outputs="Draft text",
            sla_hours=72,
        ),
        _step("edit", "Edit", required_skill="writing", min_level=3, sla_hours=24),
        _step(
            "approve",
            "Approve",
            kind="review",
            required_skill="editing",
            min_level=3,
            checklist=["Facts checked", "Tone fits"],
            sla_hours=24,
        ),
        _step(
            "publish",
            "Publish",
            required_skill="writing",
            min_level=2,
            checklist=[_required("Published"), "Link shared"],
        ),
    ],
    "routes": [
        _route("draft", "done", "edit"),
        _route("edit", "done", "approve"),
        _route("approve", "approved", "publish"),
        _route("approve", "changes_requested", "draft"),
        _route("approve", "rejected", None),
        _route("publish", "done", None),
    ],
}

SUPPORT_ESCALATION = {
    "format": "relay.workflow/1",
    "team": "platform",
    "slug": "support-escalation",
    "name": "Support escalation",
    "description": "Triage → L1 → escalate? → L2 → resolve. L1 'failed' means escalate.",
    "steps": [
        _step(
            "triage",
            "Triage",
            is_start=True,
            required_skill="support",
            min_level=2,
            checklist=[_required("Severity set"), "Customer acknowledged"],
            sla_hours=4,
        ),
        _step(
            "l1",
            "L1 support",
            manual_outcomes="pass_fail",
            required_skill="support",
            min_level=3,
            instructions="Passed = solved at L1; failed = escalate to L2.",
            sla_hours=8,
        ),
        _step(
            "l2",
            "L2 engineering",
            manual_outcomes="pass_fail",
            required_skill="devops",
            min_level=3,
            instructions="Passed = fixed; failed = back to L1 with findings.",
            sla_hours=24,
        ),
        _step("resolve", "Resolve and close", required_skill="support", min_level=2),
    ],
    "routes": [
        _route("triage", "done", "l1"),
        _route("l1", "passed", "resolve"),
        _route("l1", "failed", "l2"),
        _route("l2", "passed", "resolve"),
        _route("l2", "failed", "l1"),
        _route("resolve", "done", None),
    ],
}

ONBOARDING = {
    "format": "relay.workflow/1",
    "team": "platform",
    "slug": "employee-onboarding",
    "name": "Employee onboarding",
    "description": "Accounts, equipment and training in parallel, all done before day one.",
    "steps": [
        _step(
            "intake",
            "HR intake",
            is_start=True,
            is_split=True,
            assignment_policy="lead",
            checklist=[_required("Contract signed"), _required("Start date fixed")],
        ),
        _step("accounts", "Accounts", required_skill="devops", min_level=2, sla_hours=48),
        _step("equipment", "Equipment", required_skill="support", min_level=2, sla_hours=72),
        _step("training", "Training plan", required_skill="writing", min_level=2, sla_hours=72),
        _step(
            "first-day",
            "First day",
            is_join=True,
            assignment_policy="lead",
            checklist=["Welcome meeting", "Buddy assigned"],
        ),
    ],
    "routes": [
        _route("intake", "done", "accounts"),
        _route("intake", "done", "equipment"),
        _route("intake", "done", "training"),
        _route("accounts", "done", "first-day"),
        _route("equipment", "done", "first-day"),
        _route("training", "done", "first-day"),
        _route("first-day", "done", None),
    ],
}

ALL = [ML_DEPLOYMENT, CI_CD_RELEASE, CONTENT_PUBLISHING, SUPPORT_ESCALATION, ONBOARDING]
