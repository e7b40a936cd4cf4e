from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import Account, ApiToken, SenderDomain, TermsAcceptance, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "account", "role", "is_staff", "email_verified_at", "date_joined"]
    search_fields = ["email"]
    fieldsets = [
        (None, {"fields": ["email", "password", "account", "role"]}),
        ("Personal", {"fields": ["first_name", "last_name", "email_verified_at"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["company_name", "state", "created_at"]
    list_filter = ["state"]
    search_fields = ["company_name", "users__email"]
    # The state changes only through the moderators' decisions (accounts.states and its one
    # writer, accounts.services.account_state_change), each audited and told to the account.
    readonly_fields = [
        "state",
        "state_changed_at",
        "state_reason",
        "state_reason_code",
        "deletion_due_at",
    ]


@admin.register(SenderDomain)
class SenderDomainAdmin(admin.ModelAdmin):
    list_display = ["domain", "account", "verified_at", "last_checked_at"]
    search_fields = ["domain"]
    # The DKIM private keys (encrypted) are never shown or edited here; the rest of the key
    # state changes only through the services (rotation, checks).
    exclude = ["signing_key", "next_signing_key"]
    readonly_fields = [
        "signing_selector",
        "signing_public_key",
        "next_signing_selector",
        "next_signing_public_key",
        "retired_signing_selector",
        "retired_signing_public_key",
        "dkim_published_at",
    ]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "prefix", "read_only", "role", "created_at", "revoked_at"]
    readonly_fields = ["key_digest"]


@admin.register(TermsAcceptance)
class TermsAcceptanceAdmin(admin.ModelAdmin):
    list_display = ["user", "terms_version", "privacy_version", "accepted_at", "ip"]
