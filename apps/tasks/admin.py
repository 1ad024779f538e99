from django.contrib import admin
from django.contrib.contenttypes.admin import GenericTabularInline
from django_fsm.admin import FSMAdminMixin
from django_fsm_log.models import StateLog

from .models import ChecklistItem, Comment, Task, TaskChange, WipLimits


class TransitionLogInline(GenericTabularInline):
    """The task's transition history, read-only: the log is written by transitions alone."""

    model = StateLog
    ct_field = "content_type"
    ct_fk_field = "object_id"
    extra = 0
    can_delete = False
    fields = ["timestamp", "by", "transition", "source_state", "state", "description"]
    readonly_fields = fields
    ordering = ["timestamp", "id"]
    verbose_name = "transition"
    verbose_name_plural = "transition history"

    def has_add_permission(self, request, obj=None):
        return False


class TaskChangeInline(admin.TabularInline):
    """The task's field changes (apps.tasks.edits), read-only like the transition log."""

    model = TaskChange
    extra = 0
    can_delete = False
    fields = ["at", "by", "field", "old", "new"]
    readonly_fields = fields
    verbose_name = "field change"
    verbose_name_plural = "field changes"

    def has_add_permission(self, request, obj=None):
        return False


class ChecklistItemInline(admin.TabularInline):
    model = ChecklistItem
    extra = 0


class CommentInline(admin.TabularInline):
    model = Comment
    extra = 0
    readonly_fields = ["author", "created_at"]


@admin.register(Task)
class TaskAdmin(FSMAdminMixin, admin.ModelAdmin):
    """Offers only the transitions the admin user may take (django-fsm-2 FSMAdminMixin).

    Assign and complete need an argument (who, which outcome), so they live on the task page.
    """

    fsm_fields = ["state"]
    list_display = ["title", "team", "state", "assignee", "priority", "due_at", "iteration"]
    list_filter = ["team", "state", "priority", "required_skill", "requires_review"]
    search_fields = ["title", "description", "assignee__username"]
    autocomplete_fields = ["assignee", "reviewer", "created_by", "required_skill"]
    readonly_fields = ["held_from", "outcome", "finished_at", "created_at", "updated_at"]
    inlines = [ChecklistItemInline, CommentInline, TransitionLogInline, TaskChangeInline]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # Assignment goes through transitions so capacity counters and the log stay true.
        if obj is not None:
            fields += ["assignee"]
        return fields

    def _apply_fsm_transition(self, *, obj, transition_name, request, kwargs=None):
        """Route admin transitions through the services, so they are checked and counted."""
        from django.contrib import messages

        from . import services

        try:
            task = services.perform(
                task=obj, action=transition_name, by=request.user, **(kwargs or {})
            )
        except services.TaskActionRefused as error:
            self.message_user(request, str(error), level=messages.ERROR)
            return False
        done = f"{transition_name.replace('_', ' ').capitalize()}: done."
        if task.wip_warning:  # a soft WIP limit, or work sent back into a full column
            self.message_user(request, f"{done} {task.wip_warning}", level=messages.WARNING)
        else:
            self.message_user(request, done)
        return True


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["task", "author", "created_at"]
    search_fields = ["body", "task__title"]
    list_filter = ["created_at"]
    autocomplete_fields = ["task", "author"]


@admin.register(WipLimits)
class WipLimitsAdmin(admin.ModelAdmin):
    list_display = ["team", "limits", "soft", "updated_at"]
