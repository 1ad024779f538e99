"""The team's insight page (/teams/<slug>/insight/): five charts, their tables and CSVs."""

import csv
from datetime import timedelta

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.boards import selectors as board_selectors
from apps.tasks.models import state_label
from apps.workflows.models import WorkflowTemplate

from . import charts
from .team import team_flow

MAX_DAYS = 366
CHARTS = ("cfd", "throughput", "cycle", "wip", "load")


class PeriodForm(forms.Form):
    weeks = forms.TypedChoiceField(
        required=False, coerce=int, choices=[(4, "4 weeks"), (12, "12 weeks"), (26, "26 weeks")]
    )
    start = forms.DateField(required=False, label="From")
    end = forms.DateField(required=False, label="To")
    csv = forms.ChoiceField(required=False, choices=[(c, c) for c in CHARTS])

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        start, end = data.get("start"), data.get("end")
        if start or end:
            if not (start and end):
                raise forms.ValidationError("Give both a from and a to date.")
            if start > end:
                raise forms.ValidationError("The from date must not be after the to date.")
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError("A period is at most a year.")
        else:
            end = today
            start = end - timedelta(weeks=data.get("weeks") or 4) + timedelta(days=1)
        data["start"], data["end"] = start, end
        return data


def _csv(flow, chart: str, team_slug: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{team_slug}-{chart}-{flow.start}-{flow.end}.csv"'
    )
    w = csv.writer(response)
    if chart in ("cfd", "wip", "load"):
        data = {"cfd": flow.cfd, "wip": flow.wip, "load": flow.load}[chart]
        w.writerow(["day", *data])
        for i, day in enumerate(flow.days):
            w.writerow([day.isoformat(), *(v[i] for v in data.values())])
    elif chart == "throughput":
        w.writerow(["week_starting", "done"])
        w.writerows((m.isoformat(), n) for m, n in flow.throughput)
    else:
        w.writerow(["task", "title", "done_on", "cycle_days"])
        w.writerows((pk, t, d.isoformat(), c) for pk, t, d, c in flow.cycle)
    return response


def _workflow_links(team) -> list[tuple[str, str | None]]:
    links = []
    for template in WorkflowTemplate.objects.filter(team=team).order_by("name"):
        try:
            url = reverse("insight:workflow", args=[team.slug, template.slug])
        except NoReverseMatch:  # 13A's per-workflow page, not in this branch yet
            url = None
        links.append((template.name, url))
    return links


def _numbers(first: str, series: dict[str, list[int]], labels: list[str]):
    """A day-by-series table: one row per day, one column per series."""
    columns = list(series.values())
    return charts.table(
        heads=[first, *series],
        rows=[(label, *(c[i] for c in columns)) for i, label in enumerate(labels)],
    )


@require_GET
@login_required
def team_insight(request, team_slug: str) -> HttpResponse:
    team = board_selectors.team_with_version(user=request.user, team_slug=team_slug)
    if team is None:
        raise Http404("No such team.")
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return render(
            request,
            "insight/team.html",
            {"team": team, "form": form, "nav_active": "insight"},
            status=400,
        )
    chart = form.cleaned_data.get("csv") or None
    flow = team_flow(
        team=team, start=form.cleaned_data["start"], end=form.cleaned_data["end"], only=chart
    )
    if chart:
        return _csv(flow, chart, team.slug)
    labels = [d.strftime("%-d %b") for d in flow.days]
    index = {d: i for i, d in enumerate(flow.days)}
    cfd_named = {state_label(s): v for s, v in reversed(list(flow.cfd.items()))}
    wip_named = {state_label(s): v for s, v in flow.wip.items()}
    context = {
        "team": team,
        "form": form,
        "flow": flow,
        "nav_active": "insight",
        "workflows": _workflow_links(team),
        "cfd_svg": charts.stacked_area(
            series=cfd_named,
            x_labels=labels,
            title="Cumulative flow",
            desc="Tasks in each state at the end of each day.",
        ),
        "throughput_svg": charts.bars(
            values=[n for _, n in flow.throughput],
            x_labels=[m.strftime("%-d %b") for m, _ in flow.throughput],
            title="Throughput",
            desc="Tasks done each week (weeks start on Monday).",
        ),
        "cycle_svg": charts.scatter(
            points=[(index[d], c) for _, _, d, c in flow.cycle_shown],
            x_labels=labels,
            title="Cycle time",
            desc="Days from first in progress to done, per task done.",
            lines={"p50": flow.p50, "p85": flow.p85},
        ),
        "wip_svg": charts.line_chart(
            series=wip_named,
            x_labels=labels,
            title="Work in progress",
            desc="Tasks in each active column per day; dotted lines are the WIP limits.",
            limits={state_label(s): n for s, n in flow.limits.items()},
        ),
        "load_svg": charts.line_chart(
            series=flow.load,
            x_labels=labels,
            title="Load",
            desc="Each person's active assigned tasks per day; dotted lines are capacities.",
            limits=flow.capacity,
        ),
        "cfd_table": _numbers("Day", cfd_named, labels),
        "wip_table": _numbers("Day", wip_named, labels),
        "load_table": _numbers("Day", flow.load, labels),
        "throughput_table": charts.table(
            heads=["Week from", "Done"],
            rows=[(m.strftime("%-d %b"), n) for m, n in flow.throughput],
        ),
        "cycle_table": charts.table(
            heads=["Task", "Done", "Days"],
            rows=[(t, d.strftime("%-d %b"), c) for _, t, d, c in flow.cycle_shown],
        ),
    }
    return render(request, "insight/team.html", context)
