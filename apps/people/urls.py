from django.urls import path

from . import views

app_name = "people"
urlpatterns = [
    path("", views.availability, name="availability"),
    path("away/", views.set_away, name="set_away"),
    path("time-off/", views.book_time_off, name="book_time_off"),
    path("time-off/<int:pk>/cancel/", views.cancel_time_off, name="cancel_time_off"),
]
