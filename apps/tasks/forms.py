from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Comment, Outcome, Task


class TransitionForm(forms.Form):
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    expected_state = forms.CharField(required=False, max_length=20)
    outcome = forms.ChoiceField(choices=Outcome.choices, required=False)


class CommentForm(forms.ModelForm):
    class Meta:
        model = Comment
        fields = ["body"]
        labels = {"body": _("Comment")}
        widgets = {"body": forms.Textarea(attrs={"rows": 3, "placeholder": _("Write a comment…")})}


class TaskForm(forms.ModelForm):
    class Meta:
        model = Task
        fields = [
            "title",
            "description",
            "required_skill",
            "min_level",
            "requires_review",
            "priority",
            "due_at",
        ]
        widgets = {"due_at": forms.DateTimeInput(attrs={"type": "datetime-local"})}

    def clean_min_level(self):
        level = self.cleaned_data["min_level"]
        if not 1 <= level <= 5:
            raise forms.ValidationError(_("Level is from 1 to 5."))
        return level
