"""Load Relay's demo data. Safe to run again: what exists is left as it is.

It lives in the workflows app because the demo's last part (templates and runs) needs every
app below it; each app's own demo module adds its part, in dependency order.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.notifications.services.outbox import emails_muted
from apps.people import demo as people_demo
from apps.tasks import demo as tasks_demo
from apps.workflows import demo as workflows_demo
from apps.workflows import demo_history, selectors


class Command(BaseCommand):
    help = "Load demo teams, people, skills, tasks and workflow runs (idempotent)."

    def handle(self, *args, **options):
        # The demo's made-up history fills the in-app inboxes but is not e-mailed; the mute
        # also covers automated steps that run when the transaction commits (eager Celery).
        # With a broker, those steps are enqueued on commit; a broker that is down is logged
        # and the command still succeeds: the data is committed and the sweeper finds them.
        with emails_muted(), transaction.atomic():
            context: dict = {}
            for part in (people_demo, tasks_demo, workflows_demo, demo_history):
                result = part.seed(**context)
                if isinstance(result, dict):
                    context.update(result)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        waiting = selectors.waiting_dispatches().count()
        if waiting:
            # No worker took them yet (or the broker is down): they are safe in the database.
            self.stdout.write(
                f"{waiting} automated step(s) of the demo runs will run when a worker takes "
                "them; if the broker was unreachable, the sweeper (celery beat, or "
                "`manage.py sweep`) enqueues them again."
            )
