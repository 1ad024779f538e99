"""The template change form as a browser would post it back, read from the page's own forms."""


def _value(bound):
    value = bound.value()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    return str(value)


def change_form_data(response) -> dict:
    """Every field of the rendered change form (template and inlines) with its current value:
    what submitting the page unchanged would post. Unticked checkboxes are left out."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = str(management[name].value())
        forms.extend(formset.forms)
    for form in forms:
        for name in form.fields:
            value = _value(form[name])
            if value != "":
                data[form.add_prefix(name)] = value
    return data
