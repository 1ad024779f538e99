"""Form fields every app's forms share: numbers bounded to what the database holds, lists of
ids, single-line text and JSON that `apps.core.jsonsafe` has checked.

A request parameter reaches the database only through one of these (or a Django field with
bounds): a 30-digit id in a URL's query would otherwise reach SQL and fail there.
"""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from . import jsonsafe
from .text import single_line

# The largest value an `integer` column holds on every database Relay runs on.
DB_INT_MAX = 2**31 - 1


class IdField(forms.IntegerField):
    """A row id (or an offset, a count): a whole number from 1 (or `min_value`) to DB_INT_MAX."""

    def __init__(self, *, min_value: int = 1, max_value: int = DB_INT_MAX, **kwargs):
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)


class IdListField(forms.CharField):
    """Comma-separated ids ("12,7,40") as a list of ints, each bounded as IdField is."""

    default_error_messages = {
        "invalid": _("The card order is not a list of ids."),
        "too_many": _("At most %(max)s ids can be given at once."),
    }

    def __init__(self, *, max_items: int, **kwargs):
        self.max_items = max_items
        kwargs.setdefault("max_length", max_items * 11)
        super().__init__(**kwargs)

    def to_python(self, value) -> list[int]:
        parts = [p.strip() for p in super().to_python(value).split(",") if p.strip()]
        if len(parts) > self.max_items:
            raise forms.ValidationError(
                self.error_messages["too_many"], code="too_many", params={"max": self.max_items}
            )
        one = IdField()
        try:
            return [one.clean(p) for p in parts]
        except forms.ValidationError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None

    def validate(self, value) -> None:
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")


class SingleLineField(forms.CharField):
    """A CharField whose line breaks and repeated spaces become single spaces."""

    def to_python(self, value) -> str:
        return single_line(super().to_python(value))


class JSONObjectField(forms.CharField):
    """Optional JSON object typed into a text box; empty is {}. `what` begins its errors
    ("Inputs is not valid JSON: …")."""

    def __init__(self, *, max_bytes: int, max_depth: int, what: str, **kwargs):
        self.max_bytes, self.max_depth, self.what = max_bytes, max_depth, what
        super().__init__(**kwargs)

    def to_python(self, value) -> dict[str, Any]:
        raw = super().to_python(value).strip()
        if not raw:
            return {}
        try:
            parsed = jsonsafe.loads(raw, max_bytes=self.max_bytes, max_depth=self.max_depth)
        except jsonsafe.UnsafeJSON as error:
            raise forms.ValidationError(f"{self.what} {error}") from None
        if not isinstance(parsed, dict):
            raise forms.ValidationError(f"{self.what} must be a JSON object ({{...}}).")
        return parsed
