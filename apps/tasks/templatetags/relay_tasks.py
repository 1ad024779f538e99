from django import template

from apps.tasks.models import Outcome
from apps.tasks.services import ACTIONS

register = template.Library()


@register.filter
def action_label(name: str) -> str:
    """The words a person uses for a transition (its method name is for code)."""
    action = ACTIONS.get(name)
    return str(action.label).lower() if action else name.replace("_", " ")


@register.filter
def outcome_label(value: str) -> str:
    return str(Outcome(value).label) if value in Outcome.values else value


@register.filter
def item(mapping, key):
    """mapping[key] in a template ("" when absent): what was typed into an output field."""
    if not isinstance(mapping, dict):
        return ""
    value = mapping.get(key, "")
    return "" if value is None else value
