from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.core.forms import IdField, IdListField
from apps.tasks.models import LIMITABLE_STATES, Outcome, State
from apps.tasks.services import ACTIONS

from .selectors import LIST_ORDERS, FiltersForm
from .services import MAX_ORDER


class MoveForm(forms.Form):
    """A drop names the columns (`from_state`, `to`); a menu or button names the `action`."""

    from_state = forms.ChoiceField(choices=State.choices, required=False)
    to = forms.ChoiceField(choices=State.choices, required=False)
    action = forms.ChoiceField(choices=[(a, a) for a in [*ACTIONS, "reorder"]], required=False)
    expected_state = forms.ChoiceField(choices=State.choices, required=False)
    note = forms.CharField(required=False, max_length=2000)
    outcome = forms.ChoiceField(choices=Outcome.choices, required=False)
    order = IdListField(required=False, max_items=MAX_ORDER)

    def clean(self):
        data = super().clean()
        if not data.get("to") and not data.get("action"):
            raise forms.ValidationError(_("Say where the card goes."))
        return data


class WipLimitsForm(forms.Form):
    soft = forms.BooleanField(
        required=False,
        label=gettext_lazy("Soft limits: warn but accept moves into a full column"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for state in LIMITABLE_STATES:
            self.fields[f"limit_{state}"] = forms.IntegerField(
                required=False,
                min_value=0,
                max_value=10_000,
                label=State(state).label,
                help_text=gettext_lazy("Empty or 0 = no limit."),
            )

    def limits(self) -> dict[str, int | None]:
        return {s: self.cleaned_data.get(f"limit_{s}") for s in LIMITABLE_STATES}


class SavedViewForm(forms.Form):
    name = forms.CharField(max_length=60)
    query = forms.CharField(required=False, max_length=500)


class MoreCardsForm(forms.Form):
    """The next page of one cell: its column, its lane (0 = no lane) and how many came before."""

    state = forms.ChoiceField(choices=State.choices)
    lane = IdField(required=False, min_value=0)
    offset = IdField(required=False, min_value=0)


class OpenTaskForm(forms.Form):
    """?task=<id> on the board opens that task's drawer."""

    task = IdField(required=False)


LIST_SORTS = {
    "": gettext_lazy("Board order"),
    "due": gettext_lazy("Due soonest"),
    "priority": gettext_lazy("Highest priority"),
    "updated": gettext_lazy("Recently changed"),
    "title": gettext_lazy("Title"),
}


class TaskListForm(FiltersForm):
    """The team task list's URL: the board's filters under the board's names (a board opens as
    a list and back with the same query string), a state, an order and a page, each bounded."""

    state = forms.ChoiceField(required=False, choices=State.choices, label=gettext_lazy("State"))
    sort = forms.ChoiceField(
        required=False,
        choices=[(key, LIST_SORTS[key]) for key in LIST_ORDERS],
        label=gettext_lazy("Sort"),
    )
    page = forms.IntegerField(
        required=False, min_value=1, max_value=100_000, label=gettext_lazy("Page")
    )

    LABELS = {
        "assignee": gettext_lazy("Assignee"),
        "skill": gettext_lazy("Skill"),
        "due": gettext_lazy("Due"),
        "q": gettext_lazy("Search"),
        "run": gettext_lazy("Run"),
        "template": gettext_lazy("Workflow"),
        "lane": gettext_lazy("Swimlanes"),
        "show": gettext_lazy("Also show"),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in self.LABELS.items():
            self.fields[name].label = label

    def problems(self) -> list[str]:
        """Each invalid parameter as a sentence that names it ("Page: Enter a whole number.")."""
        return [
            f"{self.fields[name].label}: {message}"
            for name, messages in self.errors.items()
            for message in messages
        ]

    def valid_data(self) -> dict:
        """What was valid: an invalid parameter is left unset (the list shows without it)."""
        return {k: v for k, v in self.cleaned_data.items() if k not in self.errors}
