"""Where a card sits in its board column: `Task.position`, lowest on top.

A new task goes to the bottom of its column, as a card added to a Trello list or an issue
created in a Jira backlog does: what people arranged on top stays on top, and the newest work
waits its turn below. Its position is one more than the column's last, computed inside the
INSERT (one step down the (team, state, position) index; no query of its own).

An empty column starts at FIRST_POSITION, not 0, so that cards dropped on its top
(apps.boards.services.reorder puts them just above the others) find room there for a long
time without rewriting the rest of the column. Before positions were given at creation every
new task had 0: a drop then found no room above it and rewrote the whole column, and two
such rewrites crossing locked each other's cards.

Positions are distinct per column where it matters for a drop, not everywhere: two tasks
created at the same moment may get the same one, and a card moved by a button (no order sent)
keeps the position it had, which may tie with a card of its new column. The board orders ties
by priority and id (Task.Meta.ordering), and the next drop onto that column places the cards
it names above the others whatever their positions.
"""

from django.db.models import Expression, Subquery, Value
from django.db.models.functions import Coalesce

from .models import Task

FIRST_POSITION = 1024


def below_column(*, team_id: int, state: str) -> Expression:
    """The position one below the column's last card, as an expression for the INSERT."""
    last = Task.objects.filter(team_id=team_id, state=state).order_by("-position")
    return Coalesce(Subquery(last.values("position")[:1]), Value(FIRST_POSITION - 1)) + 1
