"""How fresh one person's pages are: their counter and their teams' (TeamVersion,
PersonVersion, kept by the triggers of apps.people.version_triggers).

A page that shows only what these counters cover is unchanged while they are: its ETag, a poll's
304 or a cached copy is keyed on them. The counters go up in the same transaction as the change,
so a reader never sees new data under an old version nor the reverse.
"""

from dataclasses import dataclass, field

from django.db.models import F, QuerySet

from apps.core.reusable_sql import STAND_IN_ID, ReusableQuery

from .models import PersonVersion


@dataclass(frozen=True)
class Versions:
    """A person's counter and the counters of every team they belong to (team id → counter)."""

    person: int
    teams: dict[int, int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """All of it as text, for an ETag or a cache key: any bump changes it."""
        teams = ",".join(f"{team}:{n}" for team, n in sorted(self.teams.items()))
        return f"{self.person}/{teams}"


def _versions_rows(user: int) -> QuerySet:
    """(person counter, team id, team counter) per membership; one row with no team for a
    person on no team (a LEFT JOIN from the person's counter)."""
    return PersonVersion.objects.filter(user_id=user).values_list(
        "n", F("user__memberships__team_id"), F("user__memberships__team__version__n")
    )


# The same one query as SQL built once per process (apps.core.reusable_sql), for middleware
# that reads it inside a larger statement: VERSIONS_QUERY.sql_and_params(user=<id>).
VERSIONS_QUERY = ReusableQuery(_versions_rows, user=STAND_IN_ID)


def versions_from_rows(rows) -> Versions | None:
    """Versions from VERSIONS_QUERY's rows; None for a person with no counter (no such user)."""
    if not rows:
        return None
    teams = {team: n for _person, team, n in rows if team is not None}
    return Versions(person=rows[0][0], teams=teams)


def read_versions(user_id: int) -> Versions:
    """The person's counter and their teams' counters, in ONE query (no queryset built)."""
    return versions_from_rows(VERSIONS_QUERY.rows(user=user_id)) or Versions(person=0)
