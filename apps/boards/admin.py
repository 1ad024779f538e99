from django.contrib import admin

from .models import BoardSettings, SavedView


@admin.register(BoardSettings)
class BoardSettingsAdmin(admin.ModelAdmin):
    list_display = ["team", "wip_limits", "soft_limits", "updated_at"]


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "team", "query"]
    list_filter = ["team"]
