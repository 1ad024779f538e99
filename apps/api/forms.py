from django import forms
from django.utils.translation import gettext_lazy as _

from apps.core.forms import SingleLineField

from .models import Scope
from .services import DEFAULT_LIFETIME, LIFETIMES

LIFETIME_CHOICES = [(d, _("%(days)d days") % {"days": d}) for d in LIFETIMES]


class TokenForm(forms.Form):
    name = SingleLineField(max_length=60, label=_("Name"), help_text=_("e.g. laptop script"))
    scope = forms.ChoiceField(choices=Scope.choices, initial=Scope.READ, label=_("Scope"))
    days = forms.TypedChoiceField(
        choices=LIFETIME_CHOICES, coerce=int, initial=DEFAULT_LIFETIME, label=_("Expires in")
    )


class ServiceTokenForm(TokenForm):
    team = forms.ModelChoiceField(queryset=None, label=_("Team"), empty_label=None)

    field_order = ["team", "name", "scope", "days"]

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        self.fields["name"].help_text = _("e.g. CI")
        self.fields["scope"].initial = Scope.WRITE
