from django.urls import path

from . import views

app_name = "api_tokens"
urlpatterns = [
    path("", views.tokens, name="tokens"),
    path("new/", views.token_create, name="create"),
    path("service/new/", views.service_token_create, name="create_service"),
    path("<int:pk>/revoke/", views.token_revoke, name="revoke"),
]
