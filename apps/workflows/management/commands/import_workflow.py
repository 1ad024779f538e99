from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.people.models import Team
from apps.workflows.exchange import import_template
from apps.workflows.services import WorkflowError


class Command(BaseCommand):
    help = "Import a workflow template from JSON; nothing changes unless the whole file is valid."

    def add_arguments(self, parser):
        parser.add_argument("path", help="JSON file written by export_workflow")
        parser.add_argument("--team", help="import into this team (default: the file's team)")

    def handle(self, *args, path, team=None, **options):
        target = None
        if team:
            target = Team.objects.filter(slug=team).first()
            if target is None:
                raise CommandError(f"No team '{team}'.")
        try:
            raw = Path(path).read_bytes()
        except OSError as error:
            raise CommandError(f"Can't read {path}: {error}") from None
        try:
            template = import_template(raw, team=target)
        except WorkflowError as error:
            raise CommandError(
                "Nothing was imported:\n" + "\n".join(f"- {p}" for p in error.problems)
            ) from None
        self.stdout.write(
            self.style.SUCCESS(f"Imported {template.name} v{template.version} ({template.team}).")
        )
