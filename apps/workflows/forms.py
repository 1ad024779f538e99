from django import forms

from apps.core.forms import JSONObjectField, SingleLineField
from apps.people.models import Team

from . import exchange, fields
from .models import WorkflowTemplate

# A run's inputs are a few values a person types; anything bigger or deeper is a mistake.
MAX_INPUTS_BYTES = 64 * 1024
MAX_INPUTS_DEPTH = 20


# The start form's field for a template's declared input <name>.
INPUT_PREFIX = "input_"


class StartRunForm(forms.Form):
    """Pick a workflow, name the run and fill the workflow's typed inputs (its input_fields,
    one form field each, defaults filled in); `inputs` holds any further free-form JSON an
    action reads. start_run checks the values again: every way in meets the same rules."""

    template = forms.ModelChoiceField(queryset=WorkflowTemplate.objects.none(), label="Workflow")
    title = SingleLineField(max_length=200, help_text="What this run is about, e.g. churn-v4.")
    inputs = JSONObjectField(
        max_bytes=MAX_INPUTS_BYTES,
        max_depth=MAX_INPUTS_DEPTH,
        what="The inputs text",
        required=False,
        label="Other inputs",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional JSON object for anything the workflow does not ask for above, e.g. "
        '{"metrics": {"auc": 0.9}}',
    )

    def __init__(self, *args, templates, chosen: WorkflowTemplate | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = templates
        self.chosen = chosen
        self.input_names: list[str] = []
        if chosen is not None:
            specs = fields.clean_spec(list(chosen.input_fields or []))[0]
            for name, field in fields.form_fields(specs).items():
                self.fields[INPUT_PREFIX + name] = field
                self.input_names.append(name)
            # The workflow's own inputs first, the free-form rest after them.
            self.order_fields(["template", "title", *map(INPUT_PREFIX.__add__, self.input_names)])

    def clean(self):
        cleaned = super().clean()
        typed = {
            name: cleaned.get(INPUT_PREFIX + name)
            for name in self.input_names
            if cleaned.get(INPUT_PREFIX + name) not in (None, "")
        }
        cleaned["inputs"] = {**(cleaned.get("inputs") or {}), **typed}
        return cleaned


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
