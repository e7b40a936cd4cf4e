"""Staff views of lists. Consent history is evidence: shown read-only, never edited here."""

from django.conf import settings
from django.contrib import admin

from lists import selectors
from lists.models import ConsentRecord, ImportJob, MailingList, Subscriber, Suppression


@admin.register(MailingList)
class MailingListAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "account",
        "double_opt_in",
        "adult_content",
        "role_address_share",
        "created_at",
    ]
    list_filter = ["double_opt_in", "adult_content"]
    search_fields = ["name", "account__company_name"]
    raw_id_fields = ["account"]

    @admin.display(description="role addresses")
    def role_address_share(self, obj: MailingList) -> str:
        """Rule 6: moderators see lists made mostly of info@, sales@ and the like."""
        share = selectors.role_address_share(mailing_list=obj)
        flag = " ⚑ mostly role addresses" if share > settings.ROLE_ADDRESS_FLAG_SHARE else ""
        return f"{share:.0%}{flag}"


CONSENT_RECORD_FIELDS = ("event", "source", "obtained_at", "ip", "user_agent", "form_url", "proof")


class ConsentRecordInline(admin.TabularInline):
    model = ConsentRecord
    extra = 0
    can_delete = False
    fields = CONSENT_RECORD_FIELDS
    readonly_fields = CONSENT_RECORD_FIELDS

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ["email", "mailing_list", "status", "is_role_address", "created_at"]
    list_filter = ["status", "is_role_address"]
    # Prefix search uses the (list, email) index; a contains search would scan millions.
    search_fields = ["=email", "email__startswith"]
    raw_id_fields = ["mailing_list"]
    inlines = [ConsentRecordInline]
    show_full_result_count = False


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "account", "reason", "created_at"]
    list_filter = ["reason"]
    raw_id_fields = ["account"]
    readonly_fields = ["email_hash"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["original_filename", "account", "mailing_list", "status", "processed"]
    list_filter = ["status", "file_format"]
    raw_id_fields = ["account", "mailing_list", "created_by"]
    readonly_fields = ["total_rows", "processed", "imported", "updated", "skipped"]
