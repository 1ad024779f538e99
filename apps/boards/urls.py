from django.urls import path

from . import views

app_name = "boards"
urlpatterns = [
    path("teams/<slug:team_slug>/tasks/", views.task_list, name="task_list"),
    path("teams/<slug:team_slug>/board/", views.board, name="board"),
    path("teams/<slug:team_slug>/board/poll/", views.poll, name="poll"),
    path("teams/<slug:team_slug>/board/cards/", views.more_cards, name="more_cards"),
    path("teams/<slug:team_slug>/board/limits/", views.wip_settings, name="wip_settings"),
    path("teams/<slug:team_slug>/board/views/", views.save_view, name="save_view"),
    path(
        "teams/<slug:team_slug>/board/views/<int:view_pk>/delete/",
        views.delete_view,
        name="delete_view",
    ),
    path("board/tasks/<int:pk>/move/", views.move, name="move"),
    path("board/tasks/<int:pk>/menu/", views.card_menu, name="card_menu"),
    path("board/tasks/<int:pk>/drawer/", views.drawer, name="drawer"),
    path("board/tasks/<int:pk>/edit/", views.edit, name="edit"),
    path("board/tasks/<int:pk>/comment/", views.comment, name="comment"),
    path("board/tasks/<int:pk>/checklist/<int:item_pk>/", views.tick, name="tick"),
    path("my-work/", views.my_work, name="my_work"),
    path("my-work/counts/", views.work_links, name="work_links"),
    path("reviews/", views.reviews, name="reviews"),
]
