"""Flow insight: a team's flow (/teams/<slug>/insight/) and each workflow's steps
(/teams/<slug>/insight/workflows/<template>/). Issue 13."""

from django.urls import path

from . import flow_views, team_views

app_name = "insight"

urlpatterns = [
    # The team's charts (CFD, throughput, control chart, WIP, load): team_views.py.
    path("teams/<slug:team_slug>/insight/", team_views.team_insight, name="team"),
    # A workflow's steps (waiting/working times, loop-backs, yield, bottleneck): flow_views.py.
    path(
        "teams/<slug:team_slug>/insight/workflows/<slug:template_slug>/",
        flow_views.workflow,
        name="workflow",
    ),
    path(
        "teams/<slug:team_slug>/insight/workflows/<slug:template_slug>/figures.csv",
        flow_views.workflow_csv,
        name="workflow_csv",
    ),
]
