"""Run the beat sweepers once: the notification outbox and the automated steps.

What `celery beat` does every minute, for a machine without beat, a cron job, or after a broker
outage (the steps and e-mails the broker did not take are enqueued again, or run in-process
when no broker is configured). Safe to run at any time, beside a running beat.
"""

from django.core.management.base import BaseCommand

from apps.notifications.services.delivery import sweep_undelivered
from apps.workflows.services import sweep_dispatches


class Command(BaseCommand):
    help = "Enqueue again the automated steps and e-mails nobody is running or sending."

    def handle(self, *args, **options):
        steps = sweep_dispatches()
        emails = sweep_undelivered()
        self.stdout.write(
            self.style.SUCCESS(
                f"Automated steps: {steps['enqueued']} enqueued, {steps['failed']} failed after "
                f"their last attempt, {steps['closed']} closed. External steps: "
                f"{steps['timed_out']} failed without a report. E-mails: {emails} enqueued."
            )
        )
