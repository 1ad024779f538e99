from django import forms

from apps.people.models import User
from apps.tasks.models import Task


class AssignForm(forms.Form):
    """No person = pick the best candidate; `person` must be a member of the task's team."""

    person = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    override = forms.BooleanField(required=False)
    note = forms.CharField(required=False, max_length=300, strip=True)
    expected_state = forms.CharField(required=False, max_length=20)
    page = forms.CharField(required=False, max_length=10)

    def __init__(self, *args, task: Task, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = User.objects.filter(memberships__team_id=task.team_id)
        self.fields["person"].error_messages["invalid_choice"] = "Choose a member of this team."
