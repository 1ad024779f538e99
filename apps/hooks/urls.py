from django.urls import path

from . import views

app_name = "hooks"
urlpatterns = [
    path("teams/<slug:team_slug>/webhooks/", views.webhook_list, name="list"),
    path("teams/<slug:team_slug>/webhooks/<int:pk>/", views.webhook_detail, name="detail"),
    path("teams/<slug:team_slug>/webhooks/<int:pk>/secret/", views.webhook_secret, name="secret"),
    path("teams/<slug:team_slug>/webhooks/<int:pk>/delete/", views.webhook_delete, name="delete"),
    path(
        "teams/<slug:team_slug>/webhooks/<int:pk>/deliveries/<int:delivery_pk>/redeliver/",
        views.redeliver,
        name="redeliver",
    ),
]
