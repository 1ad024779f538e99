from zoneinfo import available_timezones

from django import forms

from .models import CHOOSABLE_KINDS, Channel, NotificationSettings

TIME_ZONES = sorted(available_timezones() - {"Factory", "localtime"})


def channel_field_name(kind) -> str:
    return f"channel_{kind}"


class PreferencesForm(forms.Form):
    """A person's notification settings: one choice per kind, plus the digest's hour and zone."""

    time_zone = forms.ChoiceField(choices=[(z, z.replace("_", " ")) for z in TIME_ZONES])
    digest_enabled = forms.BooleanField(required=False, label="Send me a daily digest")
    digest_hour = forms.TypedChoiceField(
        coerce=int,
        choices=[(h, f"{h:02d}:00") for h in range(24)],
        label="Digest time",
        help_text="In your time zone.",
    )

    def __init__(self, *args, prefs: NotificationSettings, **kwargs):
        initial = {
            "time_zone": prefs.time_zone,
            "digest_enabled": prefs.digest_enabled,
            "digest_hour": prefs.digest_hour,
        }
        initial |= {channel_field_name(k): prefs.channel_for(k) for k in CHOOSABLE_KINDS}
        super().__init__(*args, initial=initial, **kwargs)
        for kind in CHOOSABLE_KINDS:
            self.fields[channel_field_name(kind)] = forms.ChoiceField(
                label=kind.label, choices=Channel.choices, widget=forms.RadioSelect
            )

    def channel_fields(self):
        return [self[channel_field_name(kind)] for kind in CHOOSABLE_KINDS]

    def channels(self) -> dict[str, str]:
        return {str(kind): self.cleaned_data[channel_field_name(kind)] for kind in CHOOSABLE_KINDS}
