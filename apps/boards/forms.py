from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.tasks.models import LIMITABLE_STATES, Outcome, State
from apps.tasks.services import ACTIONS


class MoveForm(forms.Form):
    """A drop names the columns (`from_state`, `to`); a menu or button names the `action`."""

    from_state = forms.ChoiceField(choices=State.choices, required=False)
    to = forms.ChoiceField(choices=State.choices, required=False)
    action = forms.ChoiceField(choices=[(a, a) for a in [*ACTIONS, "reorder"]], required=False)
    expected_state = forms.ChoiceField(choices=State.choices, required=False)
    note = forms.CharField(required=False, max_length=2000)
    outcome = forms.ChoiceField(choices=Outcome.choices, required=False)
    order = forms.CharField(required=False, max_length=5000)

    def clean_order(self) -> list[int]:
        raw = self.cleaned_data["order"]
        try:
            return [int(i) for i in raw.split(",") if i.strip()]
        except ValueError:
            raise forms.ValidationError(_("The card order is not a list of ids.")) from None

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
