"""System checks for the workflow engine's settings."""

from django.conf import settings
from django.core.checks import Error

# The worker kills a hung action this long after RELAY_ACTION_TIMEOUT (apps.workflows.tasks).
HARD_LIMIT_MARGIN = 30


def check_step_claim_lease(app_configs, **kwargs) -> list[Error]:
    """A lease shorter than an action may run would hand a still-running action to a second
    worker: both would run it."""
    lease, longest = (
        settings.RELAY_STEP_CLAIM_LEASE,
        settings.RELAY_ACTION_TIMEOUT + HARD_LIMIT_MARGIN,
    )
    if lease > longest:
        return []
    return [
        Error(
            f"RELAY_STEP_CLAIM_LEASE ({lease:g} s) must be longer than "
            f"RELAY_ACTION_TIMEOUT + {HARD_LIMIT_MARGIN} s ({longest} s), or a slow automated "
            "step is run a second time while the first run is still going.",
            id="workflows.E001",
        )
    ]
