"""Read-only views of what the engine decided and what is waiting: records, not settings."""

from django.contrib import admin

from .models import AssignmentDecision, WaitingTask


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AssignmentDecision)
class AssignmentDecisionAdmin(ReadOnlyAdmin):
    list_display = ["task", "assignee", "mode", "by", "score", "created_at"]
    list_filter = ["mode", "task__team"]
    search_fields = ["task__title", "assignee__username"]
    list_select_related = ["task", "assignee", "by"]


@admin.register(WaitingTask)
class WaitingTaskAdmin(ReadOnlyAdmin):
    list_display = ["task", "team", "since", "last_tried_at"]
    list_filter = ["team"]
    search_fields = ["task__title"]
    list_select_related = ["task", "team"]
