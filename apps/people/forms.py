"""The forms of a person's own availability page: every parameter it reads is bounded here."""

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.forms import SingleLineField


class AwayForm(forms.Form):
    away = forms.BooleanField(required=False)


class TimeOffForm(forms.Form):
    """Whole days, first to last inclusive, in the current time zone."""

    first_day = forms.DateField(
        label=_("First day off"), widget=forms.DateInput(attrs={"type": "date"})
    )
    last_day = forms.DateField(
        label=_("Last day off"), widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = SingleLineField(label=_("Reason (optional)"), max_length=200, required=False)

    def clean(self):
        data = super().clean()
        first, last = data.get("first_day"), data.get("last_day")
        if first and last and last < first:
            raise forms.ValidationError(_("The last day off cannot be before the first."))
        return data

    def period(self) -> tuple[datetime, datetime]:
        """From the first day's midnight to the midnight after the last day."""
        tz = timezone.get_current_timezone()
        starts = datetime.combine(self.cleaned_data["first_day"], time.min, tzinfo=tz)
        ends = datetime.combine(
            self.cleaned_data["last_day"] + timedelta(days=1), time.min, tzinfo=tz
        )
        return starts, ends
