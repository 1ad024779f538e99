"""System checks for the workflow engine's settings."""

from django.conf import settings
from django.core.checks import Error


def check_step_claim_lease(app_configs, **kwargs) -> list[Error]:
    """A lease shorter than the action timeout would hand a still-running action to a second
    worker: both would run it."""
    if settings.RELAY_STEP_CLAIM_LEASE > settings.RELAY_ACTION_TIMEOUT:
        return []
    return [
        Error(
            f"RELAY_STEP_CLAIM_LEASE ({settings.RELAY_STEP_CLAIM_LEASE:g} s) must be longer than "
            f"RELAY_ACTION_TIMEOUT ({settings.RELAY_ACTION_TIMEOUT} s), or a slow automated "
            "step is run a second time while the first run is still going.",
            id="workflows.E001",
        )
    ]
