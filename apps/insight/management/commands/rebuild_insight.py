"""manage.py rebuild_insight: count the insight summary again from the tasks and the log."""

import time

from django.core.management.base import BaseCommand

from apps.insight import summary


class Command(BaseCommand):
    help = (
        "Count the insight pages' summary (insight_dayflow, insight_taskflow) again from the "
        "tasks and the transition log, and create its triggers again (with the current "
        "TIME_ZONE). Idempotent; safe while Relay runs (transitions wait until it commits)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch", type=int, default=summary.BATCH, help="tasks counted per statement"
        )

    def handle(self, *args, batch: int, verbosity: int, **options):
        started = time.perf_counter()
        out = self.stdout.write if verbosity > 1 else None
        count = summary.rebuild(batch=batch, out=out)
        if verbosity:
            self.stdout.write(
                f"Insight summary rebuilt from {count} tasks in "
                f"{time.perf_counter() - started:.1f} s."
            )
