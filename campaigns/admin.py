from django.contrib import admin

from campaigns.models import Campaign, CampaignStatusChange, CampaignTestSend


class StatusChangeInline(admin.TabularInline):
    model = CampaignStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ("old_status", "new_status", "actor", "reason", "at")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "status", "subject", "created_at", "submitted_at")
    list_filter = ("status",)
    search_fields = ("name", "subject", "account__company_name")
    # Status changes go through campaigns.services only.
    readonly_fields = ("status", "findings", "submitted_at", "created_by")
    filter_horizontal = ("lists",)
    inlines = [StatusChangeInline]


@admin.register(CampaignTestSend)
class TestSendAdmin(admin.ModelAdmin):
    list_display = ("campaign", "to_email", "sent_by", "sent_at")
    readonly_fields = ("campaign", "account", "sent_by", "to_email", "message_id", "sent_at")
