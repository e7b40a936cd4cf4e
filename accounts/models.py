"""Accounts (organisations), their users, terms acceptances, API tokens and sender domains."""

from typing import ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.states import AccountState
from config.coded_text import render_all


class Account(models.Model):
    """The organisation that sends: its identity appears in every message it sends."""

    company_name = models.CharField(max_length=200)
    contact_name = models.CharField(max_length=200)
    phone = models.CharField(max_length=40)
    postal_address = models.TextField()
    website = models.URLField(blank=True)
    state = models.CharField(
        max_length=32, choices=AccountState.choices, default=AccountState.ACTIVE
    )
    state_changed_at = models.DateTimeField(null=True, blank=True)
    state_reason = models.TextField(blank=True)
    # The reason as coded text (config.coded_text) when the system wrote it (a health warning):
    # read in each reader's language. A moderator's typed reason lives in state_reason alone.
    state_reason_code = models.JSONField(null=True, blank=True)
    # Set when an unappealed freeze schedules the account for deletion.
    deletion_due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The sender's branding on recipient pages: a logo stored as "brand/<random key>" (a new
    # key per upload, so its public URL can be cached for good) and an optional "#rrggbb".
    logo = models.FileField(upload_to="brand/", blank=True, db_index=True)
    logo_content_type = models.CharField(max_length=16, blank=True)
    brand_color = models.CharField(max_length=7, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=AccountState.values), name="account_state_valid"
            )
        ]

    def __str__(self) -> str:
        return self.company_name

    @property
    def state_reason_shown(self) -> str:
        """Why the account is in its state, in the reader's language where the system wrote it."""
        if self.state_reason_code:
            return render_all(self.state_reason_code)
        return self.state_reason

    @property
    def can_send(self) -> bool:
        return self.state in (AccountState.ACTIVE, AccountState.WARNED)

    @property
    def logo_url(self) -> str:
        """The logo's public address, or "" without a logo."""
        from django.urls import reverse

        if not self.logo:
            return ""
        return reverse("brand_logo", kwargs={"key": (self.logo.name or "").rsplit("/", 1)[-1]})

    @property
    def brand_css_url(self) -> str:
        """A stylesheet setting the brand colour on recipient pages, or "" without one."""
        from django.urls import reverse

        if not self.brand_color:
            return ""
        return reverse("brand_css", kwargs={"color": self.brand_color.lstrip("#")})


class Role(models.TextChoices):
    """A member's role in their account, from the most to the least it allows (accounts.roles).

    The owner manages the team, the company profile, sender domains, webhooks and closing the
    account; an editor works on lists and campaigns; a viewer reads."""

    OWNER = "owner", pgettext_lazy("team role", "Owner")
    EDITOR = "editor", pgettext_lazy("team role", "Editor")
    VIEWER = "viewer", pgettext_lazy("team role", "Viewer")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> "User":
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, email: str | None) -> "User":
        # Addresses are stored lower-cased; people type them as they like.
        return self.get(email__iexact=email)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who logs in with an e-mail address; senders belong to an account, staff moderate."""

    # No user name: the e-mail address is the login (USERNAME_FIELD).
    username = None  # type: ignore[assignment]
    email = models.EmailField("e-mail address", unique=True)
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="users", null=True, blank=True
    )
    email_verified_at = models.DateTimeField(null=True, blank=True)
    # The interface language the user picked (settings.LANGUAGES); blank: the browser's.
    language = models.CharField(max_length=8, blank=True, default="")
    # The role within `account` (meaningless without one). The default is the owner because
    # every path that makes an account makes its owner with it; invitations set the role.
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.OWNER)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    # Our manager (e-mail, no user name) where the stubs expect auth's UserManager.
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    @property
    def is_email_verified(self) -> bool:
        return self.email_verified_at is not None


class TermsAcceptance(models.Model):
    """Proof that a user accepted the terms and privacy policy: which versions, when, from where."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="terms_acceptances")
    terms_version = models.CharField(max_length=32)
    privacy_version = models.CharField(max_length=32)
    accepted_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-accepted_at"]

    def __str__(self) -> str:
        return f"{self.user} accepted terms {self.terms_version} on {self.accepted_at:%Y-%m-%d}"


class ApiToken(models.Model):
    """A named API key. Only its SHA-256 digest is stored; the key is shown once at creation."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=8, help_text="First characters of the key, to recognise it."
    )
    key_digest = models.CharField(max_length=64, unique=True)
    read_only = models.BooleanField(default=False)
    # The creator's role when the token was made; a request with it acts with the lesser of
    # this and the creator's current role (accounts.roles.effective_role).
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.OWNER)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class SenderDomain(models.Model):
    """A domain the account sends from; usable once a TXT record proves the account controls it."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="sender_domains")
    domain = models.CharField(max_length=253)
    verification_token = models.CharField(max_length=64, unique=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    # The selector an ESP signs with (EMAIL_BACKEND an anymail one); unused when we sign.
    dkim_selector = models.CharField(max_length=63, blank=True)
    # Our DKIM key (accounts.dkim): the selector we sign under, the private key encrypted with
    # DKIM_KEY_SECRET, the public key as published (p=). A rotation's new key waits in next_*
    # until a check sees it in DNS; the replaced selector stays listed (retired) for a while,
    # so mail signed with it still verifies.
    signing_selector = models.CharField(max_length=63, blank=True)
    signing_key = models.TextField(blank=True)
    signing_public_key = models.TextField(blank=True)
    next_signing_selector = models.CharField(max_length=63, blank=True)
    next_signing_key = models.TextField(blank=True)
    next_signing_public_key = models.TextField(blank=True)
    retired_signing_selector = models.CharField(max_length=63, blank=True)
    retired_signing_public_key = models.TextField(blank=True)
    # When a check last found our current public key published (null: not seen yet).
    dkim_published_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    # The last DNS check as data: {"verification": {...}, "spf": ..., "dmarc": ..., "dkim": ...}.
    findings = models.JSONField(default=dict, blank=True)
    # Set by the blocklist watch (complaints.blocklists): since when the domain is listed, and in
    # which DNSBL zones; cleared when no zone lists it. A listed From domain sends the campaign
    # to review at the probe's verdict.
    blocklisted_at = models.DateTimeField(null=True, blank=True)
    blocklist_zones = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(fields=["account", "domain"], name="sender_domain_unique")
        ]

    def __str__(self) -> str:
        return self.domain

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def txt_record_value(self) -> str:
        from django.conf import settings

        return f"{settings.DOMAIN_VERIFICATION_PREFIX}{self.verification_token}"


class Notification(models.Model):
    """A message to an account's users (a moderation decision, a probe's warning), shown in the
    UI until read and also e-mailed."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="notifications")
    # Coded text (config.coded_text, written by accounts.services.notify), rendered in the
    # reader's language; rows from before codes hold the sentence, shown as it is.
    subject = models.JSONField()
    body = models.JSONField(default=str, blank=True)
    # A path inside the app, e.g. the campaign's page.
    link = models.CharField(max_length=300, blank=True)
    level = models.CharField(max_length=8, default="info")  # info, warning, error
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        from config.coded_text import render

        return render(self.subject)


class WebhookEvent(models.TextChoices):
    """Events an account can receive at its webhook endpoints (`webhook.test` is only ever sent
    by the "send test event" button, to one endpoint)."""

    SUBSCRIBER_SUBSCRIBED = "subscriber.subscribed", _("A subscriber subscribed")
    SUBSCRIBER_UNSUBSCRIBED = "subscriber.unsubscribed", _("A subscriber unsubscribed")
    SUBSCRIBER_BOUNCED = "subscriber.bounced", _("A subscriber's address hard-bounced")
    SUBSCRIBER_COMPLAINED = "subscriber.complained", _("A subscriber complained (spam report)")
    CAMPAIGN_STATUS_CHANGED = "campaign.status_changed", _("A campaign changed status")
    IMPORT_FINISHED = "import.finished", _("An import finished")


WEBHOOK_TEST_EVENT = "webhook.test"


class WebhookEndpoint(models.Model):
    """A URL of the account's that receives signed POSTs for the events it subscribes to.

    `secret` is the HMAC key the payloads are signed with, so it is stored retrievable (not
    hashed like API keys); it is shown to the user once, at creation and on rotation.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=100)
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("webhook delivery", "Pending")
    SUCCEEDED = "succeeded", pgettext_lazy("webhook delivery", "Succeeded")
    FAILED = "failed", pgettext_lazy("webhook delivery", "Failed")


class WebhookDelivery(models.Model):
    """One event sent to one endpoint; the row holds the outcome of its latest attempt."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=64)
    event_id = models.UUIDField()
    payload = models.JSONField()
    attempt = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(
        max_length=10,
        choices=WebhookDeliveryStatus.choices,
        default=WebhookDeliveryStatus.PENDING,
    )
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # Coded text (accounts/texts.py), rendered in the reader's language (old rows: a sentence).
    error = models.JSONField(default=str, blank=True)
    response_excerpt = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the next attempt is due; while an attempt runs, the end of its claim.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=WebhookDeliveryStatus.values),
                name="webhook_delivery_status_valid",
            ),
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="webhook_delivery_unique_event"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"


class Invitation(models.Model):
    """An owner's invitation of a colleague to the account with a role. The e-mailed link is a
    signed token naming this row (accounts.team); it works until `expires_at`, once."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=8, choices=Role.choices)
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="invitation_role_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} as {self.role}"


class AccountEventAction(models.TextChoices):
    INVITED = "invited", _("Invited a colleague")
    INVITATION_REVOKED = "invitation_revoked", _("Withdrew an invitation")
    JOINED = "joined", _("Joined the team")
    ROLE_CHANGED = "role_changed", _("Changed a member's role")
    REMOVED = "removed", _("Removed a member")
    OWNERSHIP_TRANSFERRED = "ownership_transferred", _("Transferred the ownership")
    PROFILE_UPDATED = "profile_updated", _("Updated the company profile")
    TOKEN_CREATED = "token_created", _("Created an API token")
    TOKEN_REVOKED = "token_revoked", _("Revoked an API token")
    CLOSED = "closed", _("Closed the account")


class AccountEvent(models.Model):
    """Who changed what about the account's team and identity, and when. Rows are never
    edited; `actor_label` and `subject` keep an entry readable after the member is gone."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=254, blank=True)
    # An API request says so: the change came through a token, named here.
    via = models.CharField(max_length=120, blank=True)
    action = models.CharField(max_length=32, choices=AccountEventAction.choices)
    subject = models.CharField(max_length=254, blank=True)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["account", "-at"], name="account_event_recent")]

    def __str__(self) -> str:
        return f"{self.actor_label}: {self.action} {self.subject}"
