from django import template

register = template.Library()


@register.inclusion_tag("boards/partials/work_links.html", takes_context=True)
def work_links(context):
    """My work / Awaiting my review links; their counts arrive in a request of their own, so
    pages showing the header pay no query for them."""
    return {"lazy": True, "nav_active": context.get("nav_active")}


@register.simple_tag(takes_context=True)
def board_card(context, card):
    """One card (see apps.boards.cards for why this is Python, not a template)."""
    return context["card_renderer"].render(card)
