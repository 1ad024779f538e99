from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.core.text import single_line

from .models import Comment, Outcome, State, Task


class TaskListForm(forms.Form):
    """A team's task list filters, from the URL; an invalid one (a NUL byte in the search,
    which PostgreSQL can't compare) is left unset."""

    state = forms.ChoiceField(required=False, choices=State.choices)
    q = forms.CharField(required=False, max_length=100)


class TransitionForm(forms.Form):
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    expected_state = forms.CharField(required=False, max_length=20)
    outcome = forms.ChoiceField(choices=Outcome.choices, required=False)


class TickForm(forms.Form):
    """Tick (done=1) or untick (done=0) a checklist item, from the task page or the drawer."""

    done = forms.TypedChoiceField(
        choices=[("1", _("Ticked")), ("0", _("Not ticked"))], coerce=lambda v: v == "1"
    )


class CommentForm(forms.ModelForm):
    def post(self, *, task: Task, author) -> bool:
        """Validate and add the comment through the service; a problem goes next to the field."""
        from . import services

        if not self.is_valid():
            return False
        try:
            services.add_comment(task=task, author=author, body=self.cleaned_data["body"])
        except (ValueError, ValidationError) as error:
            self.add_error("body", str(error.args[0] if error.args else error))
            return False
        return True

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

    def clean_title(self) -> str:
        """A title is one line: it heads pages, cards and e-mail subjects."""
        return single_line(self.cleaned_data["title"])

    def clean_min_level(self):
        level = self.cleaned_data["min_level"]
        if not 1 <= level <= 5:
            raise forms.ValidationError(_("Level is from 1 to 5."))
        return level
