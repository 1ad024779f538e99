from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from apps.core.refusals import Refused
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


class AttachmentForm(forms.Form):
    """A file to attach to a task."""

    file = forms.FileField(label=_("File"), max_length=1000)


class AttachmentsPlaceForm(forms.Form):
    """Which page's Files section answers an upload or a removal: the task page or the drawer."""

    ctx = forms.ChoiceField(choices=[("page", "page"), ("drawer", "drawer")], required=False)


class CommentForm(forms.ModelForm):
    # A file attached to the comment being written (optional).
    file = forms.FileField(label=_("Attach a file"), required=False, max_length=1000)

    def post(self, *, task: Task, author) -> bool:
        """Validate and add the comment (and its file) through the services, both or neither;
        a problem goes next to the field."""
        from . import attachments, services

        if not self.is_valid():
            return False
        try:
            with transaction.atomic():
                comment = services.add_comment(
                    task=task, author=author, body=self.cleaned_data["body"]
                )
                if self.cleaned_data.get("file"):
                    attachments.attach(
                        task=task, upload=self.cleaned_data["file"], by=author, comment=comment
                    )
        except Refused as refusal:
            self.add_error("file", refusal.message)
            return False
        except (ValueError, ValidationError) as error:
            self.add_error("body", str(error.args[0] if error.args else error))
            return False
        return True

    class Meta:
        model = Comment
        fields = ["body"]
        labels = {"body": _("Comment")}
        widgets = {"body": forms.Textarea(attrs={"rows": 3, "placeholder": _("Write a comment…")})}


class WatchForm(forms.Form):
    """The watch toggle: what the person wants now, and which page's toggle answers."""

    watching = forms.TypedChoiceField(choices=[("1", "watch"), ("0", "unwatch")], coerce=int)
    ctx = forms.ChoiceField(choices=[("page", "page"), ("drawer", "drawer")], required=False)


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


class SearchForm(forms.Form):
    """A search, from the URL: at most 100 characters (a NUL byte, which PostgreSQL can't
    compare, is refused by the field)."""

    q = forms.CharField(
        required=False,
        max_length=100,
        error_messages={"max_length": _("Search for at most %(limit_value)d characters.")},
    )
