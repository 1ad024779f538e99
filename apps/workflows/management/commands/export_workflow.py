import sys

from django.core.management.base import BaseCommand, CommandError

from apps.workflows.exchange import export_json
from apps.workflows.models import WorkflowTemplate


class Command(BaseCommand):
    help = "Print (or write) a workflow template's current version as JSON."

    def add_arguments(self, parser):
        parser.add_argument("team", help="team slug")
        parser.add_argument("slug", help="template slug")
        parser.add_argument("--output", "-o", help="file to write (default: stdout)")

    def handle(self, *args, team, slug, output=None, **options):
        template = WorkflowTemplate.objects.filter(
            team__slug=team, slug=slug, is_current=True
        ).first()
        if template is None:
            raise CommandError(f"No workflow '{slug}' in team '{team}'.")
        text = export_json(template)
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            sys.stdout.write(text)
