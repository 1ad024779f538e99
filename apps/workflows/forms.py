import json

from django import forms

from apps.people.models import Team

from .models import WorkflowTemplate


class StartRunForm(forms.Form):
    template = forms.ModelChoiceField(queryset=WorkflowTemplate.objects.none(), label="Workflow")
    title = forms.CharField(max_length=200, help_text="What this run is about, e.g. churn-v4.")
    inputs = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text='Optional JSON object, e.g. {"model": "churn-v4", "metrics": {"auc": 0.9}, '
        '"thresholds": {"auc": 0.85}}',
    )

    def __init__(self, *args, templates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = templates

    def clean_inputs(self) -> dict:
        raw = self.cleaned_data["inputs"].strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError as error:
            raise forms.ValidationError(f"Inputs are not valid JSON: {error}.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Inputs must be a JSON object ({...}).")
        return value


class ImportForm(forms.Form):
    file = forms.FileField(help_text="A .json file written by export.")
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        label="Into team",
        help_text="The workflow goes into this team, whichever team the file names.",
    )

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        if len(teams) == 1:
            self.fields["team"].empty_label = None
