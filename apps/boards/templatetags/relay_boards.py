from django import template

from apps.people import selectors as people

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


@register.inclusion_tag("boards/partials/main_nav.html", takes_context=True)
def main_nav(context):
    """The header's main navigation on every page: the page's team, else the viewer's one
    team, else a board link per team (so the inbox and settings pages have it too)."""
    team = context.get("team")
    teams = []
    if team is None:
        teams = list(people.teams_for(user=context["request"].user).order_by("name"))
        if len(teams) == 1:
            team = teams[0]
    return {"team": team, "teams": teams, "nav_active": context.get("nav_active")}
