from django.urls import path

from . import views

app_name = "workflows"
urlpatterns = [
    path("teams/<slug:team_slug>/runs/", views.run_list, name="run_list"),
    path("teams/<slug:team_slug>/runs/new/", views.run_start, name="run_start"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run_cancel"),
    path("runs/<int:pk>/retry/", views.run_retry, name="run_retry"),
]
