"""Escalate once what beat escalates every five minutes: steps whose SLA ran out.

For a machine without beat, or a cron job. Safe beside a running beat: each stage of a task
happens once (apps.workflows.escalation).
"""

from django.core.management.base import BaseCommand

from apps.workflows.escalation import escalate_overdue


class Command(BaseCommand):
    help = "Remind, alert the leads or re-assign the tasks whose step's SLA ran out."

    def handle(self, *args, **options):
        done = escalate_overdue()
        for escalated in done:
            self.stdout.write(f"Task {escalated.task_id} ({escalated.stage}): {escalated.detail}")
        self.stdout.write(self.style.SUCCESS(f"{len(done)} escalation stage(s) done."))
