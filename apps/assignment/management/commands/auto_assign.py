"""Assign a team's pending `todo` tasks in one batch (what the Workload page button does)."""

from django.core.management.base import BaseCommand, CommandError

from apps.assignment.services.batch import auto_assign_pending
from apps.people.models import Team


class Command(BaseCommand):
    help = "Auto-assign every assignable todo task of a team, most urgent first."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="The team's slug.")
        parser.add_argument(
            "--waiting-only", action="store_true", help="Only retry tasks already marked waiting."
        )

    def handle(self, *args, team, waiting_only, **options):
        try:
            team_obj = Team.objects.get(slug=team)
        except Team.DoesNotExist:
            raise CommandError(f"No team with slug {team!r}.") from None
        result = auto_assign_pending(team=team_obj, only_waiting=waiting_only)
        self.stdout.write(
            self.style.SUCCESS(
                f"{team_obj.name}: {result.assigned} assigned, {result.waiting} waiting "
                f"(nobody eligible)."
            )
        )
