from django import forms

from .models import Event


class WebhookForm(forms.Form):
    """What a lead types; the service decides whether the URL may receive (apps.hooks.safety)."""

    url = forms.CharField(
        label="Payload URL",
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://ci.example.com/relay-hook"}),
        help_text="Relay POSTs JSON here: public http(s) addresses only, no redirects followed.",
    )
    description = forms.CharField(
        label="Description", max_length=200, required=False, help_text="Who receives it, why."
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=Event.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Relay sends only the events ticked here.",
    )
    is_active = forms.BooleanField(label="Active (send deliveries)", required=False, initial=True)
