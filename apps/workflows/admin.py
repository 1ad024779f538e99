"""The workflow editor: a template with its steps and routes inline, its diagram, validation
on every save, JSON import/export. A version that has runs is shown read-only with a button to
copy it into a draft (copy-on-write: the runs keep theirs). The draft is edited while the
current version keeps serving new runs, and becomes current when a lead publishes it.

The editor lives on two sites. The global /admin/ (staff, with Django's model permissions) and
/team-admin/, the "Workflow admin" for leads, who are not staff. On both, the templates of a
team the user may not edit (selectors.editable_teams: a superuser every team, anyone else the
teams they lead) don't exist: not listed, 404 when opened, not offered as a team to move to or
import into.
"""

import json
from functools import partial

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from apps.tasks.models import Outcome

from . import editing, exchange, selectors, services
from .forms import ImportForm
from .models import (
    ManualOutcomes,
    Route,
    Run,
    Step,
    StepDispatch,
    StepKind,
    WorkflowTemplate,
    outcomes_for,
)
from .validation import graph_of, validate


def status_html(template: WorkflowTemplate, found: list[str]):
    """What the version's state means for runs, in words: never "Valid" on a version that
    serves no runs without saying so."""
    if template.is_draft:
        head = (
            f"Draft v{template.version} — {len(found)} problem{'s' if len(found) != 1 else ''}: "
            "fix them, then publish."
            if found
            else f"Draft v{template.version} — valid: publish it to serve new runs."
        )
    elif not template.is_current:
        head = f"Version {template.version} was replaced: it serves only the runs it has."
    elif found:
        head = (
            f"Version {template.version} — {len(found)} problem{'s' if len(found) != 1 else ''}: "
            "runs can't start until they're fixed."
        )
    elif not template.is_active:
        head = "Valid, but inactive: tick “is active” and save to let runs start."
    else:
        head = "Valid: runs can start."
    if not found:
        return format_html('<p class="wf-status-head">{}</p>', head)
    return format_html(
        '<p class="wf-status-head">{}</p><ul class="errorlist">{}</ul>',
        head,
        format_html_join("", "<li>{}</li>", ((p,) for p in found)),
    )


def _action_choices():
    return [("", "—")] + [(a, a.rsplit(".", 1)[-1]) for a in settings.RELAY_ACTIONS]


class StepKeysField(forms.CharField):
    """Step keys as people type them ("train, evaluate"), stored as a list."""

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        keys = [k.strip() for k in (super().to_python(value) or "").split(",")]
        return list(dict.fromkeys(k for k in keys if k))


class StepForm(forms.ModelForm):
    action = forms.ChoiceField(choices=_action_choices, required=False)
    not_done_by = StepKeysField(
        required=False,
        max_length=1000,
        label="Not done by whoever did",
        help_text=Step._meta.get_field("not_done_by").help_text
        + " Step keys, separated by commas.",
    )

    class Meta:
        model = Step
        fields = [f.name for f in Step._meta.fields if f.name not in ("id", "template")]
        # Steps are ordered by dragging them or by their "Move up/down" buttons (the editor's
        # script numbers the positions), never by typing a number.
        widgets = {"position": forms.HiddenInput(attrs={"data-wf-position": ""})}
        help_texts = {
            "output_fields": 'Typed outputs the doer records when finishing, e.g. [{"name": '
            '"accuracy", "type": "number", "required": true}]; types: number, text, boolean, '
            'url, choice (with "choices"). Conditions read them as accuracy (this step\'s '
            "routes) or evaluate.accuracy (later steps)."
        }

    # Escalation came later than the rest of the step: a form (or a script) that does not send
    # it keeps a step's escalation as it was, off for a new step.
    OPTIONAL_WITH_DEFAULT = ("escalation", "escalate_every_hours")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.OPTIONAL_WITH_DEFAULT:
            self.fields[name].required = False

    def _kept_or_default(self, name: str):
        value = self.cleaned_data.get(name)
        if value in (None, ""):
            return getattr(self.instance, name, None) or Step._meta.get_field(name).default
        return value

    def clean_escalation(self):
        return self._kept_or_default("escalation")

    def clean_escalate_every_hours(self):
        return self._kept_or_default("escalate_every_hours")


class FromStepSelect(forms.Select):
    """Each step offered carries the outcomes it can produce (data-outcomes), so the editor's
    script offers only those in the row's outcome select once a step is chosen."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        step = getattr(value, "instance", None)
        if step is not None:
            option["attrs"]["data-outcomes"] = " ".join(step.outcomes)
        return option


class OutcomeSelect(forms.Select):
    """Renders only the outcomes its route's step can produce (`allowed`; None = all, a new row
    before a step is chosen). The field still accepts every outcome, so a step whose kind is
    changed in the same save can take its new outcomes; validation names any mismatch."""

    allowed: tuple[str, ...] | None = None

    def optgroups(self, name, value, attrs=None):
        groups = super().optgroups(name, value, attrs)
        if self.allowed is None:
            return groups
        keep = {"", *self.allowed, *(str(v) for v in value if v)}
        return [group for group in groups if group[1][0]["value"] in keep]


class RouteForm(forms.ModelForm):
    class Meta:
        model = Route
        fields = ["from_step", "outcome", "condition", "to_step", "position"]
        widgets = {
            "from_step": FromStepSelect,
            "outcome": OutcomeSelect,
            "condition": forms.TextInput(
                attrs={"size": 34, "placeholder": "e.g. accuracy >= inputs.threshold"}
            ),
            "position": forms.NumberInput(attrs={"class": "vSmallIntegerField", "min": 0}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        widget = self.fields["outcome"].widget
        widget.allowed = self.instance.from_step.outcomes if self.instance.from_step_id else None
        # Position only orders routes of one outcome: a blank one is tried first.
        self.fields["position"].required = False

    def clean_position(self):
        return self.cleaned_data.get("position") or 0


class WorkflowAdminSite(admin.AdminSite):
    """/team-admin/: the workflow editor for the teams a person leads, and nothing else.

    Leads are not staff, and Django's model permissions are global, so this site admits whoever
    may edit some team's workflows and leaves every decision to selectors.editable_teams.
    """

    site_header = "Relay · Workflow admin"
    site_title = "Workflow admin"
    index_title = "Workflow templates of the teams you lead"
    uses_model_permissions = False

    def has_permission(self, request):
        return selectors.may_edit_workflows(request.user)

    def index(self, request, extra_context=None):
        teams = [team.name for team in selectors.editable_teams(request.user).order_by("name")]
        title = f"Workflow templates of {', '.join(teams)}" if teams else self.index_title
        return super().index(request, {"title": title, **(extra_context or {})})


team_admin_site = WorkflowAdminSite(name="team_admin")


def _model_permissions_apply(model_admin) -> bool:
    return getattr(model_admin.admin_site, "uses_model_permissions", True)


def _in_scope(request, template) -> bool:
    """The user may edit this template's team (`None`: the add form, any team of theirs)."""
    if template is None:
        return selectors.may_edit_workflows(request.user)
    return selectors.may_edit_team_workflows(request.user, team_id=template.team_id)


def _frozen(template) -> bool:
    """Asked for the template and for every inline form's permissions (31 times on the ML
    template's page): the answer is kept on the instance for the request that loaded it. A
    save decides again on the locked row (WorkflowTemplateAdmin.save_model)."""
    if template is None or template.pk is None:
        return False
    if "_relay_frozen" not in template.__dict__:
        template.__dict__["_relay_frozen"] = services.is_frozen(template)
    return template.__dict__["_relay_frozen"]


class SharedChoicesFormSet(forms.BaseInlineFormSet):
    """Every form of the inline offers the same choices for `shared_choice_fields`: read them
    once per formset, not once per row and field (a route's from/to steps were 22 queries).
    Submitted values are still checked against the field's queryset."""

    shared_choice_fields: tuple[str, ...] = ()

    def add_fields(self, form, index):
        super().add_fields(form, index)
        cache = self.__dict__.setdefault("_shared_choices", {})
        for name in self.shared_choice_fields:
            field = form.fields.get(name)
            if field is None or not hasattr(field, "queryset"):
                continue
            if name not in cache:
                # A comprehension, not list(): list() asks len() first, one COUNT more.
                cache[name] = [choice for choice in field.choices]
            field.choices = cache[name]
            field.to_python = partial(_chosen, field, cache, name)
        # Each row's own id is resolved among the rows the formset read, not one query a row.
        own = form.fields.get(self.model._meta.pk.name)
        if isinstance(own, forms.ModelChoiceField):
            rows = self.__dict__.setdefault("_rows", {})
            own.to_python = partial(_existing_row, own, self, rows)


def _existing_row(field, formset, rows: dict, value):
    if value in field.empty_values:
        return None
    if not rows:
        rows.update({str(row.pk): row for row in formset.get_queryset()})
    try:
        return rows[str(value)]
    except KeyError:
        raise ValidationError(
            field.error_messages["invalid_choice"], code="invalid_choice"
        ) from None


def _chosen(field, cache: dict, name: str, value):
    """A submitted choice resolved among the choices already read (ModelChoiceField would ask
    the database once per row and field: 22 queries for the ML template's routes)."""
    if value in field.empty_values:
        return None
    key = f"{name}:instances"
    if key not in cache:
        cache[key] = {str(c[0]): c[0].instance for c in cache[name] if c[0] != ""}
    instances = cache[key]
    try:
        return instances[str(value)]
    except KeyError:
        raise ValidationError(
            field.error_messages["invalid_choice"], code="invalid_choice"
        ) from None


class FrozenAwareInline:
    """Inlines of a template the user may edit; read-only on a version that runs hold."""

    def has_view_permission(self, request, obj=None):
        return _in_scope(request, obj) and (
            not _model_permissions_apply(self) or super().has_view_permission(request, obj)
        )

    def has_change_permission(self, request, obj=None):
        return (
            not _frozen(obj)
            and _in_scope(request, obj)
            and (not _model_permissions_apply(self) or super().has_change_permission(request, obj))
        )

    def has_add_permission(self, request, obj=None):
        return (
            not _frozen(obj)
            and _in_scope(request, obj)
            and (not _model_permissions_apply(self) or super().has_add_permission(request, obj))
        )

    def has_delete_permission(self, request, obj=None):
        return (
            not _frozen(obj)
            and _in_scope(request, obj)
            and (not _model_permissions_apply(self) or super().has_delete_permission(request, obj))
        )


class StepFormSet(SharedChoicesFormSet):
    shared_choice_fields = ("required_skill",)


class RouteFormSet(SharedChoicesFormSet):
    shared_choice_fields = ("from_step", "to_step")


class StepInline(FrozenAwareInline, admin.StackedInline):
    model = Step
    form = StepForm
    formset = StepFormSet

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("required_skill")

    extra = 0
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("key", "name", "position"),
                    ("kind", "manual_outcomes", "action"),
                    "output_fields",
                    ("is_start", "is_join", "is_split"),
                    ("required_skill", "min_level", "assignment_policy"),
                    ("sla_hours", "max_iterations", "system"),
                    ("escalation", "escalate_every_hours"),
                    "not_done_by",
                ]
            },
        ),
        (
            "Who does what, how",
            {
                "classes": ["collapse"],
                "fields": ["instructions", "inputs", "outputs", "checklist"],
            },
        ),
        (
            "Sub-workflow",
            {"classes": ["collapse"], "fields": ["subworkflow", "subworkflow_inputs"]},
        ),
    ]


class RouteInline(FrozenAwareInline, admin.TabularInline):
    model = Route
    form = RouteForm
    formset = RouteFormSet
    extra = 1
    verbose_name_plural = (
        "routes (an empty 'to step' means END; an empty condition is the default route; "
        "routes of one outcome are tried by position; save new steps before routing)"
    )
    fields = ["from_step", "outcome", "condition", "to_step", "position"]

    def get_queryset(self, request):
        # A read-only version shows each route's steps by name: read them with the routes.
        return super().get_queryset(request).select_related("from_step", "to_step")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Offer only this template's steps: a route never crosses templates.
        if db_field.name in ("from_step", "to_step"):
            object_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = Step.objects.filter(template_id=object_id or 0)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class WorkflowTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "version", "is_current", "is_draft", "is_active", "run_count"]
    # Only the teams in the (scoped) list: the filter must not name teams the user can't edit.
    list_filter = [
        ("team", admin.RelatedOnlyFieldListFilter),
        "is_current",
        "is_draft",
        "is_active",
    ]
    search_fields = ["name", "slug"]
    readonly_fields = ["version"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("team", "name", "slug"),
                    "description",
                    "input_fields",
                    ("is_active", "version"),
                ]
            },
        ),
    ]
    inlines = [StepInline, RouteInline]
    actions = ["export_json"]
    change_form_template = "admin/workflows/workflowtemplate/change_form.html"
    change_list_template = "admin/workflows/workflowtemplate/change_list.html"

    def get_queryset(self, request):
        editable = selectors.editable_templates(request.user).values("pk")
        return (
            super()
            .get_queryset(request)
            .filter(pk__in=editable)
            .select_related("team")
            .annotate(run_total=Count("runs"))
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "team":
            kwargs["queryset"] = selectors.editable_teams(request.user).order_by("name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Another team's template answers exactly as one that doesn't exist (change, delete and
        # history views): a 404, where Django's admin would redirect with a message.
        raise Http404("No such workflow template.")

    def has_module_permission(self, request):
        return _in_scope(request, None) and (
            not _model_permissions_apply(self) or super().has_module_permission(request)
        )

    def has_view_permission(self, request, obj=None):
        return _in_scope(request, obj) and (
            not _model_permissions_apply(self) or super().has_view_permission(request, obj)
        )

    def has_add_permission(self, request):
        return _in_scope(request, None) and (
            not _model_permissions_apply(self) or super().has_add_permission(request)
        )

    def has_delete_permission(self, request, obj=None):
        return _in_scope(request, obj) and (
            not _model_permissions_apply(self) or super().has_delete_permission(request, obj)
        )

    def _may_edit(self, request, obj) -> bool:
        """May change this template's rows, whether or not runs freeze this version."""
        return _in_scope(request, obj) and (
            not _model_permissions_apply(self) or super().has_change_permission(request, obj)
        )

    def has_change_permission(self, request, obj=None):
        return self._may_edit(request, obj) and not _frozen(obj)

    def get_readonly_fields(self, request, obj=None):
        # A draft is a version of its template: it stays in its team under its slug, and runs
        # start on it only once published (publish_draft activates it).
        if obj is not None and obj.is_draft:
            return [*self.readonly_fields, "team", "slug", "is_active"]
        return self.readonly_fields

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "input_fields" and field is not None:
            field.help_text = (
                'Typed run inputs for the start form, e.g. [{"name": "threshold", "type": '
                '"number", "default": 0.9}]; conditions read them as inputs.threshold.'
            )
        return field

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            context["wf_live"] = self._live_panel(obj)
        # A data attribute, not json_script: the Content-Security-Policy allows no inline <script>.
        context["wf_editor_json"] = json.dumps(
            {
                "outcomes": {
                    f"{kind}:{manual}": list(outcomes_for(kind=kind, manual_outcomes=manual))
                    for kind in StepKind.values
                    for manual in ManualOutcomes.values
                },
                "labels": {value: str(label) for value, label in Outcome.choices},
            }
        )
        if obj is not None and obj.is_current:
            context["draft"] = services.draft_of(obj)
        if obj is not None and obj.is_draft:
            context["current"] = WorkflowTemplate.objects.filter(
                team_id=obj.team_id, slug=obj.slug, is_current=True
            ).first()
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _url(self, name: str, *args) -> str:
        return reverse(f"{self.admin_site.name}:workflows_workflowtemplate_{name}", args=args)

    @admin.display(description="Runs")
    def run_count(self, obj):
        return obj.run_total

    def _live_panel(self, template: WorkflowTemplate) -> str:
        """The live diagram with the version's status and the dry run (live.html): it re-draws
        from the unsaved form as steps and routes change (preview_view)."""
        steps = list(template.steps.select_related("required_skill"))
        routes = list(template.routes.all())
        by_pk = {step.pk: step for step in steps}
        for route in routes:
            # Read from the steps at hand, not one query per route (a route that strayed to
            # another template's step is still read, and validation names it).
            if route.from_step_id in by_pk:
                route.from_step = by_pk[route.from_step_id]
            if route.to_step_id in by_pk or route.to_step_id is None:
                route.to_step = by_pk.get(route.to_step_id)
        context = editing.live_view(template=template, steps=steps, routes=routes)
        return render_to_string(
            "admin/workflows/workflowtemplate/live.html",
            {
                **context,
                "template": template,
                "status": status_html(template, context["problems"]),
                "preview_url": self._url("preview", template.pk),
            },
        )

    def preview_view(self, request, pk):
        """The live panel's result for the unsaved form (POSTed whole by htmx): the diagram
        with its problems on their steps, the status, and a dry run if asked for. Saves
        nothing; a read-only version is previewed as stored (its dry run still works)."""
        template = get_object_or_404(self.get_queryset(request), pk=pk)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if self.has_change_permission(request, template):
            template, steps, routes, form_problems = self._unsaved(request, template)
        else:
            steps = list(template.steps.select_related("required_skill"))
            routes = list(template.routes.select_related("from_step", "to_step"))
            form_problems = []
        dry = "1" in request.POST.getlist("dry-run") and "0" not in request.POST.getlist("dry-run")
        context = editing.live_view(
            template=template,
            steps=steps,
            routes=routes,
            data=request.POST,
            form_problems=form_problems,
            dry=dry,
        )
        return render(
            request,
            "admin/workflows/workflowtemplate/live.html#result",
            {**context, "template": template, "status": status_html(template, context["problems"])},
        )

    def _unsaved(self, request, template):
        """The template, steps and routes as the posted form has them, unsaved, and every
        problem of the form itself (a step's field that isn't valid) as a sentence."""
        form = self.get_form(request, template, change=True)(
            request.POST, request.FILES, instance=template
        )
        form.is_valid()  # fills form.instance with what was typed; nothing is saved
        shadow = form.instance
        formsets, _inlines = self._create_formsets(request, shadow, change=True)
        problems = []
        steps: list[Step] = []
        routes: list[Route] = []
        for formset in formsets:
            formset.is_valid()
            kept = [
                f
                for f in formset.forms
                if not (formset.can_delete and formset._should_delete_form(f))
                and (f.instance.pk is not None or f.has_changed())
            ]
            if formset.model is Step:
                for number, f in enumerate(kept, start=1):
                    step = f.instance
                    if not step.key:
                        continue
                    if step.pk is None:
                        step.pk = -number  # a new row: drawn, and routed once saved
                    steps.append(step)
                    problems.extend(
                        f"Step '{step.key}', {name.replace('_', ' ')}: {' '.join(errors)}"
                        for name, errors in f.errors.items()
                    )
            else:
                routes = [f.instance for f in kept]
        by_pk = {step.pk: step for step in steps}
        previewed = []
        for route in routes:
            if route.from_step_id not in by_pk or not route.outcome:
                continue
            route.from_step = by_pk[route.from_step_id]
            if route.to_step_id in by_pk:
                route.to_step = by_pk[route.to_step_id]
            previewed.append(route)
        return shadow, steps, previewed, problems

    def save_model(self, request, obj, form, change):
        # The form offers only the user's teams; this refuses a path that forgot to.
        try:
            editing.check_may_edit(by=request.user, team_id=obj.team_id)
        except services.WorkflowError as error:
            raise PermissionDenied(str(error)) from None
        if change:
            # The admin's save is one transaction: holding the row lock here makes start_run
            # wait, so a run can't begin on this version halfway through the edit.
            locked = WorkflowTemplate.objects.select_for_update().get(pk=obj.pk)
            if services.is_frozen(locked):
                raise PermissionDenied(
                    "A run started on this version while you were editing it: use “Edit as draft”."
                )
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        template = form.instance
        found = validate(graph_of(template))
        # A bad save never deactivates anything: a draft serves no runs anyway, and a version
        # without runs refuses to start one (start_run validates) while it has problems.
        if found:
            what = (
                f"Draft v{template.version} saved; it can't be published until these are fixed"
                if template.is_draft
                else "Saved; runs can't start until these are fixed"
            )
            messages.error(
                request,
                format_html(
                    "{}:<ul>{}</ul>",
                    what,
                    format_html_join("", "<li>{}</li>", ((p,) for p in found)),
                ),
            )

    def get_urls(self):
        return [
            path(
                "<int:pk>/draft/",
                self.admin_site.admin_view(self.make_draft_view),
                name="workflows_workflowtemplate_make_draft",
            ),
            path(
                "<int:pk>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="workflows_workflowtemplate_preview",
            ),
            path(
                "<int:pk>/publish/",
                self.admin_site.admin_view(self.publish_view),
                name="workflows_workflowtemplate_publish",
            ),
            path(
                "<int:pk>/discard/",
                self.admin_site.admin_view(self.discard_view),
                name="workflows_workflowtemplate_discard",
            ),
            path(
                "<int:pk>/export/",
                self.admin_site.admin_view(self.export_view),
                name="workflows_workflowtemplate_export",
            ),
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="workflows_workflowtemplate_import",
            ),
            *super().get_urls(),
        ]

    def make_draft_view(self, request, pk):
        template = get_object_or_404(self.get_queryset(request), pk=pk)
        if request.method != "POST":
            return HttpResponseRedirect(self._url("change", pk))
        try:
            draft = editing.make_draft(template=template, by=request.user)
        except services.WorkflowError as error:
            return self._refused(request, error, pk)
        messages.success(
            request,
            f"Draft v{draft.version} created. Version {template.version} keeps serving new "
            "runs until you publish the draft.",
        )
        return HttpResponseRedirect(self._url("change", draft.pk))

    def publish_view(self, request, pk):
        draft = get_object_or_404(self.get_queryset(request), pk=pk)
        if request.method != "POST":
            return HttpResponseRedirect(self._url("change", pk))
        try:
            editing.publish_draft(draft=draft, by=request.user)
        except services.WorkflowError as error:
            return self._refused(request, error, pk)
        messages.success(
            request,
            f"Version {draft.version} published: new runs start on it; runs on older versions "
            "keep theirs.",
        )
        return HttpResponseRedirect(self._url("change", pk))

    def discard_view(self, request, pk):
        draft = get_object_or_404(self.get_queryset(request), pk=pk)
        if request.method != "POST":
            return HttpResponseRedirect(self._url("change", pk))
        current = WorkflowTemplate.objects.filter(
            team_id=draft.team_id, slug=draft.slug, is_current=True
        ).first()
        try:
            editing.discard_draft(draft=draft, by=request.user)
        except services.WorkflowError as error:
            return self._refused(request, error, pk)
        messages.success(request, f"Draft v{draft.version} discarded.")
        if current is None:
            return HttpResponseRedirect(self._url("changelist"))
        return HttpResponseRedirect(self._url("change", current.pk))

    def _refused(self, request, error: services.WorkflowError, pk) -> HttpResponse:
        """A refused draft action: 403 when the person may not, else back to the page with
        every reason (the status code says which kind of refusal it was)."""
        if error.status == 403:
            raise PermissionDenied(str(error))
        messages.error(
            request,
            format_html(
                "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((p,) for p in error.problems))
            ),
        )
        return HttpResponseRedirect(self._url("change", pk))

    def import_view(self, request):
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:index"))
        request.current_app = self.admin_site.name
        form = ImportForm(
            request.POST or None,
            request.FILES or None,
            teams=selectors.editable_teams(request.user).order_by("name"),
        )
        problems: list[str] = []
        if request.method == "POST" and form.is_valid():
            try:
                template = editing.import_into(
                    raw=form.cleaned_data["file"].read(),
                    team=form.cleaned_data["team"],
                    by=request.user,
                )
            except services.WorkflowError as error:
                problems = error.problems
            else:
                messages.success(request, f"Imported {template} into {template.team}.")
                return HttpResponseRedirect(self._url("change", template.pk))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "problems": problems,
            "title": "Import a workflow",
        }
        return render(
            request,
            "admin/workflows/workflowtemplate/import.html",
            context,
            status=422 if problems else 200,
        )

    def export_view(self, request, pk):
        return self._download(get_object_or_404(self.get_queryset(request), pk=pk))

    @admin.action(description="Export selected template as JSON")
    def export_json(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one template to export.", messages.ERROR)
            return None
        return self._download(queryset.get())

    def _download(self, template: WorkflowTemplate) -> HttpResponse:
        response = HttpResponse(exchange.export_json(template), content_type="application/json")
        response["Content-Disposition"] = (
            f'attachment; filename="{template.slug}-v{template.version}.json"'
        )
        return response


admin.site.register(WorkflowTemplate, WorkflowTemplateAdmin)
team_admin_site.register(WorkflowTemplate, WorkflowTemplateAdmin)


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["title", "template", "team", "status", "owner", "started_at"]
    list_filter = ["status", "team"]
    search_fields = ["title"]
    readonly_fields = [
        "template",
        "team",
        "owner",
        "status",
        "failure_reason",
        "started_at",
        "finished_at",
    ]
    list_select_related = ["template", "team", "owner"]

    def has_add_permission(self, request):
        return False  # runs start from the "Start a run" page, through the engine


@admin.register(StepDispatch)
class StepDispatchAdmin(admin.ModelAdmin):
    """Where an automated step's run stands (queued, claimed by which worker, how often, why it
    failed), or what an external step's system reported: read only, the engine and its sweeper
    are the only writers."""

    list_display = [
        "key",
        "kind",
        "attempts",
        "queued_at",
        "claimed_by",
        "outcome",
        "reported_by",
        "finished_at",
    ]
    exclude = ["callback_token_hash"]
    list_filter = ["kind", ("finished_at", admin.EmptyFieldListFilter)]
    search_fields = ["key", "claimed_by"]
    list_select_related = ["task"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
