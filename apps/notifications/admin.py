from django.contrib import admin, messages

from .models import EmailStatus, Notification, NotificationSettings
from .services.delivery import retry_delivery


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = [
        "kind",
        "recipient",
        "task",
        "email_status",
        "attempts",
        "short_error",
        "created_at",
        "sent_at",
        "read_at",
    ]
    list_filter = ["email_status", "kind"]
    list_select_related = ["recipient", "task"]
    search_fields = ["recipient__username", "key", "last_error"]
    readonly_fields = [
        "key",
        "created_at",
        "sent_at",
        "attempts",
        "last_error",
        "claimed_at",
        "next_attempt_at",
        "run_id",
    ]
    raw_id_fields = ["recipient", "task"]
    actions = ["retry"]

    @admin.display(description="Last error")
    def short_error(self, obj: Notification) -> str:
        return obj.last_error[:80] + ("…" if len(obj.last_error) > 80 else "")

    @admin.action(description="Retry sending the selected failed e-mails")
    def retry(self, request, queryset):
        count = retry_delivery(notifications=queryset)
        skipped = queryset.exclude(email_status=EmailStatus.FAILED).count() if not count else 0
        if count:
            self.message_user(request, f"{count} e-mail(s) queued to be sent again.")
        else:
            self.message_user(
                request,
                f"None of the {skipped} selected e-mails had failed; nothing to retry.",
                messages.WARNING,
            )


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    list_display = ["user", "time_zone", "digest_hour", "digest_enabled"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]
