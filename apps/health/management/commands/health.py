"""`manage.py health`: the /healthz checks from a shell, cron or a Nagios-style monitor.

Prints a table (or the endpoint's JSON with --json); exits 0 when every check passes, 1 when
any fails, 2 for a wrong argument (Django's usual).
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from apps.health import checks


class Command(BaseCommand):
    help = (
        "Check the database, broker, worker heartbeat, outbox and automated steps "
        "(as /healthz does); exit 1 if any fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the /healthz JSON.")
        parser.add_argument(
            "--checks",
            help=f"Comma-separated checks to run (default all: {','.join(checks.CHECKS)}).",
        )

    def handle(self, *args, **options):
        try:
            names = checks.selected(options["checks"].split(",") if options["checks"] else None)
        except checks.UnknownCheck as error:
            raise CommandError(str(error), returncode=2) from error
        report = checks.run(names)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_json(), indent=2))
        else:
            self._table(report)
        if not report.ok:
            sys.exit(1)

    def _table(self, report: checks.Report) -> None:
        width = max(len(name) for name in report.results)
        for name, result in report.results.items():
            mark = self.style.SUCCESS("ok  ") if result.ok else self.style.ERROR("FAIL")
            self.stdout.write(f"{name:<{width}}  {mark}  {result.ms:7.1f} ms  {result.says}")
        status = self.style.SUCCESS("ok") if report.ok else self.style.ERROR("fail")
        self.stdout.write(f"status: {status}")
