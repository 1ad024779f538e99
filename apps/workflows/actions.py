"""Automated-step actions. Each is registered by dotted path in settings.RELAY_ACTIONS.

An action is called as `action(run=run, task=task, key=key)` and returns "passed" or "failed"
(or a (outcome, detail) pair); raising, or running past RELAY_ACTION_TIMEOUT seconds in a worker,
counts as "failed" with the error stored on the task. (An action without a `key` parameter nor
**kwargs is called as `action(run=run, task=task)`.)

Automated steps run at least once, so an action must make a second run harmless. `key` is the
step's idempotency key ("automated:task:<task id>"): the same on every attempt of this step's
task, different for each task (a loop-back's new task gets a new key). A worker that dies
mid-action, or hangs past its claim's lease, leaves the step to be run again with the same key:
record the key with the effect (a unique column, get_or_create) or pass it to the outside system
(most deployers and payment APIs take an idempotency key) so the repeat finds the first effect.
"""

from django.utils import timezone

from .models import Deployment, Run


def thresholds_of(inputs: dict) -> tuple[dict, dict]:
    """(metrics, thresholds) from a run's inputs: typed inputs `min_<name>` with `<name>`
    (the CI/CD template's min_coverage and coverage), or the older free-form
    {"metrics": {...}, "thresholds": {...}}."""
    metrics = dict(inputs.get("metrics") or {})
    thresholds = dict(inputs.get("thresholds") or {})
    for name, value in inputs.items():
        if name.startswith("min_") and len(name) > 4:
            thresholds[name[4:]] = value
            if name[4:] in inputs:
                metrics[name[4:]] = inputs[name[4:]]
    return metrics, thresholds


def run_staging_tests(*, run: Run, task) -> tuple[str, str]:
    """Staging integration tests: the run's metrics must meet its thresholds.

    Run inputs: {"coverage": 0.9, "min_coverage": 0.8}, or the older
    {"model": "churn-v3", "metrics": {"auc": 0.91}, "thresholds": {"auc": 0.85}}.
    """
    metrics, thresholds = thresholds_of(run.inputs or {})
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


def deploy_model(*, run: Run, task, key: str | None = None) -> tuple[str, str]:
    """Record a deployment of the run's model (a stand-in for calling the real deployer); run
    again with the same key, it finds the deployment it recorded and records no second one."""
    model = str(run.inputs.get("model") or run.title)
    environment = str(run.inputs.get("environment") or "production")
    fields = {"run": run, "model_name": model, "environment": environment}
    if key is None:
        Deployment.objects.create(**fields, deployed_at=timezone.now())
    else:
        deployment, _ = Deployment.objects.get_or_create(key=key, defaults=fields)
        model, environment = deployment.model_name, deployment.environment
    return "passed", f"Deployed {model} to {environment}."
