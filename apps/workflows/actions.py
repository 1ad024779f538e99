"""Automated-step actions. Each is registered by dotted path in settings.RELAY_ACTIONS.

An action is called as `action(run=run, task=task)` and returns "passed" or "failed" (or a
(outcome, detail) pair); raising, or running past RELAY_ACTION_TIMEOUT seconds in a worker, counts
as "failed" with the error stored on the task.
"""

from django.utils import timezone

from .models import Deployment, Run


def run_staging_tests(*, run: Run, task) -> tuple[str, str]:
    """Staging integration tests: the model record's metrics must meet the run's thresholds.

    Run inputs: {"model": "churn-v3", "metrics": {"auc": 0.91}, "thresholds": {"auc": 0.85}}.
    """
    metrics = run.inputs.get("metrics") or {}
    thresholds = run.inputs.get("thresholds") or {}
    if not thresholds:
        raise ValueError("The run's inputs name no thresholds to test the model against.")
    misses = []
    for name, minimum in sorted(thresholds.items()):
        value = metrics.get(name)
        if value is None or float(value) < float(minimum):
            misses.append(f"{name} = {value} < {minimum}")
    if misses:
        return "failed", "Below threshold: " + "; ".join(misses)
    return "passed", "All metrics meet their thresholds."


def deploy_model(*, run: Run, task) -> tuple[str, str]:
    """Record a deployment of the run's model (a stand-in for calling the real deployer)."""
    model = str(run.inputs.get("model") or run.title)
    environment = str(run.inputs.get("environment") or "production")
    Deployment.objects.create(
        run=run, model_name=model, environment=environment, deployed_at=timezone.now()
    )
    return "passed", f"Deployed {model} to {environment}."
