from django import template

from apps.boards.cards import render_card
from apps.boards.selectors import work_counts

register = template.Library()


@register.inclusion_tag("boards/partials/work_links.html", takes_context=True)
def work_links(context):
    """My work / Awaiting my review links with their counts (one query)."""
    user = context["request"].user
    return {"counts": work_counts(user=user), "nav_active": context.get("nav_active")}


@register.filter
def initials_of(user) -> str:
    return user.initials if user else ""


@register.simple_tag(takes_context=True)
def board_card(context, card):
    """One card (see apps.boards.cards for why this is Python, not a template)."""
    filters = context.get("filters")
    return render_card(
        card,
        card_base=context["card_base"],
        query=filters.query_string() if filters else "",
        now=context.get("now"),
    )
