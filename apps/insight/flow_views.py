"""A workflow template's insight page (/teams/<slug>/insight/workflows/<template>/) and its
figures as CSV. Team members only: another team's page is a 404, like every team page."""

import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from apps.core.http import HtmxHttpRequest, errors_sentence
from apps.people import selectors as people
from apps.people.models import Team
from apps.workflows.diagram import Heat
from apps.workflows.diagram import render as render_diagram

from . import flow
from .forms import PeriodForm

PAGE = "insight/workflow.html"
LEVELS = 5


def _team_for(request: HtmxHttpRequest, team_slug: str) -> Team:
    return get_object_or_404(people.teams_for(user=request.user), slug=team_slug)


def _insight(request: HtmxHttpRequest, team: Team, template_slug: str, form: PeriodForm):
    versions = flow.template_versions(team=team, slug=template_slug)
    number = form.cleaned_data.get("version")
    chosen = None
    if number:
        chosen = next((v for v in versions if v.version == number), None)
        if chosen is None:
            return versions, None
    return versions, flow.workflow_insight(versions=versions, chosen=chosen, period=form.period())


def heat_for(insight: flow.WorkflowInsight) -> tuple[Heat, list[tuple[int, str]]]:
    """The diagram's heat map and its legend [(level, "under 2 h"), …]: five equal bands of
    the slowest step's median time."""
    totals = {f.key: f.median_total for f in insight.steps if f.median_total is not None}
    top = max(totals.values(), default=0) or 1.0
    band = top / LEVELS
    levels, texts = {}, {}
    for step in insight.diagram_steps:
        total = totals.get(step.key)
        if total is None:
            continue
        levels[step.pk] = min(LEVELS - 1, int(total / band))
        texts[step.pk] = f"median {flow.humanize(total)}"
    by_key = {s.key: s.pk for s in insight.diagram_steps}
    loop_rates = {
        (by_key[loop.source], by_key[loop.target]): f"{loop.rate:.0%}"
        for loop in insight.loops
        if loop.source in by_key and loop.target in by_key
    }
    legend = [
        (i, f"{flow.humanize(i * band)} - {flow.humanize((i + 1) * band)}") for i in range(LEVELS)
    ]
    return Heat(
        levels=levels, texts=texts, edge_runs=insight.edge_runs, loop_rates=loop_rates
    ), legend


@require_GET
@login_required
def workflow(request: HtmxHttpRequest, team_slug: str, template_slug: str) -> HttpResponse:
    team = _team_for(request, team_slug)
    form = PeriodForm(request.GET)
    context = {
        "team": team,
        "form": form,
        "templates": flow.team_templates(team=team),
        "template_slug": template_slug,
        "nav_active": "insight",
    }
    if not form.is_valid():
        context["versions"] = flow.template_versions(team=team, slug=template_slug)
        context["error"] = errors_sentence(form)
        return render(request, PAGE, context, status=400)
    versions, insight = _insight(request, team, template_slug, form)
    context["versions"] = versions
    if insight is None:
        context["error"] = "This workflow has no such version."
        return render(request, PAGE, context, status=404)
    heat, legend = heat_for(insight)
    context.update(
        insight=insight,
        legend=legend,
        bottleneck=flow.bottleneck_sentence(insight),
        diagram=render_diagram(
            insight.template,
            steps=insight.diagram_steps,
            routes=insight.diagram_routes,
            heat=heat,
        ),
        rows=[_row(f) for f in insight.steps],
        bins=_bins(insight),
        histogram_width=40 + 70 * flow.HISTOGRAM_BINS,
        lead_median=flow.humanize(insight.lead_median),
        lead_p85=flow.humanize(insight.lead_p85),
        run_yield="—" if insight.run_yield is None else f"{insight.run_yield:.0%}",
        query=request.GET.urlencode(),
    )
    return render(request, PAGE, context)


def _row(f: flow.StepFigures) -> dict:
    def pct(value):
        return "—" if value is None else f"{value:.0%}"

    return {
        "figures": f,
        "waiting_median": flow.humanize(f.waiting_median),
        "waiting_p85": flow.humanize(f.waiting_p85),
        "working_median": flow.humanize(f.working_median),
        "working_p85": flow.humanize(f.working_p85),
        "loop_back_rate": pct(f.loop_back_rate),
        "first_pass_yield": pct(f.first_pass_yield),
        "sla": f"{f.sla_missed} of {f.sla_tracked}" if f.sla_tracked else "—",
    }


def _bins(insight: flow.WorkflowInsight) -> list[dict]:
    """The lead-time histogram's bars, with their geometry for the SVG (heights of 0-120)."""
    bins = insight.histogram
    top = max((b.count for b in bins), default=0) or 1
    return [
        {
            "label": f"{flow.humanize(b.start)} - {flow.humanize(b.end)}",
            "count": b.count,
            "short": flow.humanize(b.end),
            "x": 40 + i * 70,
            "height": round(120 * b.count / top),
            "y": 140 - round(120 * b.count / top),
        }
        for i, b in enumerate(bins)
    ]


@require_GET
@login_required
def workflow_csv(request: HtmxHttpRequest, team_slug: str, template_slug: str) -> HttpResponse:
    """Every figure of the page's step table, plus loop-backs and the lead-time summary."""
    team = _team_for(request, team_slug)
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return HttpResponse(errors_sentence(form), status=400, content_type="text/plain")
    _versions, insight = _insight(request, team, template_slug, form)
    if insight is None:
        return HttpResponse("This workflow has no such version.", status=404)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{template_slug}-insight.csv"'
    out = csv.writer(response)
    out.writerow(
        [
            "period",
            insight.period.label,
            insight.period.start.isoformat(),
            insight.period.end.isoformat(),
        ]
    )
    out.writerow(
        [
            "step",
            "runs",
            "tasks",
            "finished",
            "waiting_median_s",
            "waiting_p85_s",
            "working_median_s",
            "working_p85_s",
            "loop_backs",
            "loop_back_rate",
            "first_pass_yield",
            "sla_tracked",
            "sla_missed",
            "time_spent_s",
        ]
    )

    def num(value):
        return "" if value is None else round(value, 3)

    for f in insight.steps:
        out.writerow(
            [
                f.key,
                f.runs,
                f.tasks,
                f.finished,
                num(f.waiting_median),
                num(f.waiting_p85),
                num(f.working_median),
                num(f.working_p85),
                f.loop_backs,
                num(f.loop_back_rate),
                num(f.first_pass_yield),
                f.sla_tracked,
                f.sla_missed,
                num(f.time_spent),
            ]
        )
    out.writerow([])
    out.writerow(["loop_back_from", "to", "count", "rate"])
    for loop in insight.loops:
        out.writerow([loop.source, loop.target, loop.count, num(loop.rate)])
    out.writerow([])
    out.writerow(["runs_finished", "runs_first_pass", "lead_time_median_s", "lead_time_p85_s"])
    out.writerow(
        [
            insight.runs_finished,
            insight.runs_first_pass,
            num(insight.lead_median),
            num(insight.lead_p85),
        ]
    )
    out.writerow([])
    out.writerow(["lead_time_from_s", "lead_time_to_s", "runs"])
    for b in insight.histogram:
        out.writerow([num(b.start), num(b.end), b.count])
    return response
