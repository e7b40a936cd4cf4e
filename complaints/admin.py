from django.contrib import admin

from complaints.models import FeedbackDeadLetter


@admin.register(FeedbackDeadLetter)
class FeedbackDeadLetterAdmin(admin.ModelAdmin):
    """Reports that could not be applied (complaints.services.feedback_apply_batch), for staff
    to read: what came in and why it failed. Nothing here is changed by hand."""

    list_display = ("created_at", "source", "kind", "event_id", "error_summary")
    list_filter = ("source", "kind")
    search_fields = ("event_id", "error")
    readonly_fields = ("source", "event_id", "kind", "report", "error", "created_at")

    @admin.display(description="error")
    def error_summary(self, obj: FeedbackDeadLetter) -> str:
        return obj.error.splitlines()[0][:120] if obj.error else ""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
