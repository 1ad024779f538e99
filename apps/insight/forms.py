"""The insight pages' query parameters: which period and which version, bounded."""

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.forms import IdField

from .flow import Period

# The longest period a page computes over: it bounds the rows read (see flow.py).
MAX_DAYS = 366
LAST = {"7": 7, "30": 30, "90": 90}


class PeriodForm(forms.Form):
    """`last` = 7/30/90 days (default 30), or `start`-`end` dates (inclusive, at most a year);
    `version` = one version's number, or every version when empty."""

    last = forms.ChoiceField(
        choices=[("7", _("Last 7 days")), ("30", _("Last 30 days")), ("90", _("Last 90 days"))],
        required=False,
    )
    start = forms.DateField(required=False, label=_("From"))
    end = forms.DateField(required=False, label=_("To"))
    version = IdField(required=False, max_value=100_000)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if (start is None) != (end is None) and not self.errors:
            raise forms.ValidationError(_("Give both dates of the period, or neither."))
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The period ends before it starts."))
            if (end - start).days + 1 > MAX_DAYS:
                raise forms.ValidationError(
                    _("A period is at most %(days)d days long.") % {"days": MAX_DAYS}
                )
        return data

    def period(self, *, now: datetime | None = None) -> Period:
        """The chosen period (call after is_valid()); the last 30 days by default."""
        now = now or timezone.now()
        start, end = self.cleaned_data.get("start"), self.cleaned_data.get("end")
        if start and end:
            zone = timezone.get_current_timezone()
            return Period(
                start=datetime.combine(start, time.min, tzinfo=zone),
                end=datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
                label=f"{start:%d %b %Y} - {end:%d %b %Y}",
            )
        days = LAST.get(self.cleaned_data.get("last") or "30", 30)
        return Period(start=now - timedelta(days=days), end=now, label=f"last {days} days")
