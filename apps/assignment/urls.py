from django.urls import path

from . import views

app_name = "assignment"
urlpatterns = [
    path("tasks/<int:pk>/assignment/panel/", views.panel, name="panel"),
    path("tasks/<int:pk>/assignment/assign/", views.assign, name="assign"),
    path("teams/<slug:team_slug>/workload/", views.workload, name="workload"),
    path(
        "teams/<slug:team_slug>/workload/auto-assign/",
        views.auto_assign_pending,
        name="auto_assign_pending",
    ),
]
