"""The board's grid (column heads and every cell's cards), rendered once per team version.

Fetching and rendering 250 cards is most of a board page; between two changes of the team it
is the same HTML for everyone who asks with the same filters. So the grid is kept in the
cache under the team's version counter (people.TeamVersion, bumped by the database in the
same transaction as any change the grid shows), the filters, the five-minute window the
ETag uses too (overdue marks and the Done window move with the clock) and the language.

Nothing of the viewer is in the grid: a card's moves come from its menu (boards:card_menu,
asked when opened), the WIP-limits button, saved views, header counts and the ETag are
rendered around it for each request. The one filter that depends on who asks ("assignee=me")
puts the viewer's id into the key.
"""

import hashlib

from django.core.cache import cache
from django.db import connection
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe

from apps.people.models import Team, User

from . import selectors
from .selectors import BoardFilters

KEY_PREFIX = "board"
# The window the ETag uses (selectors.etag_for): a grid is never older than a 304 would be.
WINDOW_SECONDS = 300


def _key(part: str, *, team: Team, version: int, user: User, filters: BoardFilters, now=None):
    now = now or timezone.now()
    viewer = user.pk if filters.assignee == "me" else ""
    # The database too: test runs in parallel share one Redis with databases of their own.
    database = connection.settings_dict["NAME"]
    raw = f"{database}|{filters.query_string()}|{viewer}|{translation.get_language()}"
    digest = hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest()
    window = int(now.timestamp() // WINDOW_SECONDS)
    return f"{KEY_PREFIX}-{part}:{team.pk}:{version}:{window}:{digest}"


def _cached(part: str, *, team: Team, version: int | None, user, filters, render) -> SafeString:
    """The fragment from the cache, or rendered by `render()` and kept. No version (a team
    without its counter row): rendered every time."""
    key = None
    if version is not None:
        key = _key(part, team=team, version=version, user=user, filters=filters)
        html = cache.get(key)
        if html is not None:
            return mark_safe(html)  # rendered by a template below, escaped there
    html = render()
    if key is not None:
        cache.set(key, html)
    return mark_safe(html)


def board_grid(
    *, team: Team, version: int | None, user: User, filters: BoardFilters, context: dict
) -> SafeString:
    """The grid's HTML: from the cache when this team version has been rendered with these
    filters, else rendered (selectors.board) and kept. `context` has the card renderer."""

    def render() -> str:
        limits = selectors.settings_of(team)
        board = selectors.board(
            team=team, user=user, filters=filters, limits=dict(limits.limits) if limits else {}
        )
        return render_to_string(
            "boards/board.html#board-grid",
            {**context, "team": team, "board": board, "filters": filters},
        )

    return _cached("grid", team=team, version=version, user=user, filters=filters, render=render)


def filter_controls(
    *, team: Team, version: int | None, user: User, filters: BoardFilters, context: dict
) -> SafeString:
    """The filter form's fields: the team's members, workflows and running runs, the skills
    (a skill's edit bumps every team), with the current filters selected. `context` holds
    them as unevaluated querysets: a cached answer runs none of them."""

    def render() -> str:
        return render_to_string(
            "boards/board.html#filter-controls", {**context, "team": team, "filters": filters}
        )

    return _cached("filters", team=team, version=version, user=user, filters=filters, render=render)
