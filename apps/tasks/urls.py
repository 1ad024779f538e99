from django.urls import path

from . import views

app_name = "tasks"
urlpatterns = [
    path("search/", views.search_results, name="search"),
    path("search/quick/", views.quick_open, name="quick_open"),
    path("teams/<slug:team_slug>/tasks/new/", views.task_create, name="task_create"),
    path("tasks/<int:pk>/", views.task_detail, name="task_detail"),
    path("tasks/<int:pk>/edit/", views.task_edit, name="task_edit"),
    path("tasks/<int:pk>/comment/", views.task_comment, name="task_comment"),
    path("tasks/<int:pk>/watch/", views.task_watch, name="task_watch"),
    path("tasks/<int:pk>/attach/", views.task_attach, name="task_attach"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment"),
    path("attachments/<int:pk>/remove/", views.attachment_remove, name="attachment_remove"),
    path("tasks/<int:pk>/checklist/<int:item_pk>/", views.task_tick, name="task_tick"),
    path("tasks/<int:pk>/<slug:action>/", views.task_transition, name="task_transition"),
]
