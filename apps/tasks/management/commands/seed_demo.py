"""Load Relay's demo data. Safe to run again: what exists is left as it is."""

from importlib import import_module

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.notifications.services.outbox import emails_muted

# Each app's demo module adds its part, in this order; later parts get what earlier ones made.
DEMO_MODULES = ["apps.people.demo", "apps.tasks.demo", "apps.workflows.demo"]


class Command(BaseCommand):
    help = "Load demo teams, people, skills, tasks and workflow runs (idempotent)."

    def handle(self, *args, **options):
        # The demo's made-up history fills the in-app inboxes but is not e-mailed; the mute
        # also covers automated steps that run when the transaction commits.
        with emails_muted(), transaction.atomic():
            context: dict = {}
            for name in DEMO_MODULES:
                result = import_module(name).seed(**context)
                if isinstance(result, dict):
                    context.update(result)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
