"""Flow insight: a team's flow (/teams/<slug>/insight/) and each workflow's steps
(/teams/<slug>/insight/workflows/<template>/). Issue 13."""

app_name = "insight"

urlpatterns: list = [
    # The team's charts (CFD, throughput, control chart, WIP, load): team_views.py.
    # A workflow's steps (waiting/working times, loop-backs, yield, bottleneck): flow_views.py.
]
