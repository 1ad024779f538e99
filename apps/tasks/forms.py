from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from apps.core.forms import SingleLineField
from apps.core.refusals import Refused
from apps.core.text import single_line
from apps.people.models import Role, Skill, User

from .models import Comment, Outcome, Priority, Task


class TransitionForm(forms.Form):
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    expected_state = forms.CharField(required=False, max_length=20)
    outcome = forms.ChoiceField(choices=Outcome.choices, required=False)


# The finishing form's field for the step's output <name>; OUTPUTS_SHOWN says the form asked
# for them (an unticked yes/no output sends nothing, which then means "no").
OUTPUT_PREFIX = "output_"
OUTPUTS_SHOWN = "outputs_shown"


def outputs_from(data, specs: list[dict]) -> dict | None:
    """The outputs a finishing form sent ({name: text as typed}), or None when the form did
    not ask for them (a board drag): the service then refuses a step with required outputs."""
    if not specs or not data.get(OUTPUTS_SHOWN):
        return None
    outputs = {}
    for spec in specs:
        value = data.get(OUTPUT_PREFIX + spec["name"])
        if value is None and spec["type"] == "boolean":
            value = "false"
        if value is not None:
            outputs[spec["name"]] = value[:5000]
    return outputs


class AttachmentForm(forms.Form):
    """A file to attach to a task."""

    file = forms.FileField(label=_("File"), max_length=1000)


class AttachmentsPlaceForm(forms.Form):
    """Which page's Files section answers an upload or a removal: the task page or the drawer."""

    ctx = forms.ChoiceField(choices=[("page", "page"), ("drawer", "drawer")], required=False)


class TickForm(forms.Form):
    """Tick (done=1) or untick (done=0) a checklist item, from the task page or the drawer."""

    done = forms.TypedChoiceField(
        choices=[("1", _("Ticked")), ("0", _("Not ticked"))], coerce=lambda v: v == "1"
    )


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


class TaskEditForm(forms.Form):
    """Editing a task (apps.tasks.edits): the fields this person may not change are shown
    disabled, so they post nothing and keep the task's value. `version` is the task's
    updated_at as the form showed it (a stale edit is refused)."""

    title = SingleLineField(max_length=200)
    description = forms.CharField(
        required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 4})
    )
    due_at = forms.DateTimeField(
        required=False,
        label=_("Due"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    priority = forms.TypedChoiceField(choices=Priority.choices, coerce=int)
    required_skill = forms.ModelChoiceField(
        queryset=Skill.objects.order_by("name"), required=False, label=_("Skill")
    )
    min_level = forms.IntegerField(min_value=1, max_value=5, label=_("Level (1 to 5)"))
    reviewer = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    version = forms.CharField(max_length=40, widget=forms.HiddenInput)

    def __init__(self, *args, task: Task, editable: frozenset[str], **kwargs):
        from .edits import EDITABLE, version_of

        initial = {field: getattr(task, field) for field in EDITABLE}
        initial["version"] = version_of(task)
        super().__init__(*args, initial=initial, **kwargs)
        self.task = task
        reviewers = User.objects.filter(
            memberships__team_id=task.team_id, memberships__role__in=[Role.REVIEWER, Role.LEAD]
        ).order_by("username")
        self.fields["reviewer"].queryset = reviewers
        self.fields["reviewer"].label_from_instance = lambda user: user.display_name
        self.fields["reviewer"].empty_label = _("Any reviewer")
        for name in EDITABLE:
            if name not in editable:
                self.fields[name].disabled = True

    def changes(self) -> dict:
        """The values of the fields this person may change, for edits.edit_task."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name != "version" and not self.fields[name].disabled
        }
