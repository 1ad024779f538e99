from django import template

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
