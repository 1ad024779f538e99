from django.contrib import admin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = [
        "kind",
        "recipient",
        "task",
        "email_status",
        "attempts",
        "created_at",
        "read_at",
    ]
    list_filter = ["kind", "email_status"]
    search_fields = ["recipient__username", "key"]
    readonly_fields = ["key", "created_at", "sent_at", "attempts", "last_error"]
