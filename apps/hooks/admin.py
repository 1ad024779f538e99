"""Staff see every team's webhooks and deliveries here, read-only: registering and changing a
hook is its team leads' (the pages under /teams/<team>/webhooks/, which check the URL)."""

from django.contrib import admin

from .models import Delivery, Webhook


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Webhook)
class WebhookAdmin(ReadOnlyAdmin):
    list_display = ["url", "team", "is_active", "created_by", "created_at"]
    list_filter = ["is_active", "team"]
    list_select_related = ["team", "created_by"]
    search_fields = ["url", "description"]
    exclude = ["secret"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "event",
        "delivery_id",
        "webhook",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "event"]
    list_select_related = ["webhook"]
    search_fields = ["delivery_id", "last_error"]
