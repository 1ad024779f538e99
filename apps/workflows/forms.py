from django import forms

from apps.core.forms import JSONObjectField, SingleLineField
from apps.people.models import Team

from . import exchange
from .models import WorkflowTemplate

# A run's inputs are a few values a person types; anything bigger or deeper is a mistake.
MAX_INPUTS_BYTES = 64 * 1024
MAX_INPUTS_DEPTH = 20


class StartRunForm(forms.Form):
    template = forms.ModelChoiceField(queryset=WorkflowTemplate.objects.none(), label="Workflow")
    title = SingleLineField(max_length=200, help_text="What this run is about, e.g. churn-v4.")
    inputs = JSONObjectField(
        max_bytes=MAX_INPUTS_BYTES,
        max_depth=MAX_INPUTS_DEPTH,
        what="The inputs text",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text='Optional JSON object, e.g. {"model": "churn-v4", "metrics": {"auc": 0.9}, '
        '"thresholds": {"auc": 0.85}}',
    )

    def __init__(self, *args, templates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = templates


class CancelRunForm(forms.Form):
    note = forms.CharField(required=False, max_length=500)


class RetryRunForm(forms.Form):
    note = forms.CharField(required=False, max_length=500)


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

    def clean_file(self):
        """Refused by its size before a byte of it is read."""
        file = self.cleaned_data["file"]
        if file.size > exchange.MAX_IMPORT_BYTES:
            raise forms.ValidationError(exchange.too_large_problem())
        return file
