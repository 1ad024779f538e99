from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from apps.api.api import api
from apps.health import views as health_views
from apps.tasks import views as task_views
from apps.workflows.admin import team_admin_site

urlpatterns = [
    path("", task_views.home, name="home"),
    path("healthz", health_views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("team-admin/", team_admin_site.urls),
    path("notifications/", include("apps.notifications.urls")),
    path("me/availability/", include("apps.people.urls")),
    path("", include("apps.tasks.urls")),
    path("", include("apps.boards.urls")),
    path("", include("apps.workflows.urls")),
    path("", include("apps.assignment.urls")),
    path("", include("apps.insight.urls")),
    # The REST API (its schema at /api/openapi.json, docs at /api/docs) and its tokens page.
    path("api/", api.urls),
    path("settings/tokens/", include("apps.api.urls")),
    path("", include("apps.hooks.urls")),
]
