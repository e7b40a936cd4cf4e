"""Every write about accounts, users, API tokens and sender domains."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import branding, dkim, roles
from accounts import dns as sender_dns
from accounts.addresses import normalise_address
from accounts.models import (
    Account,
    AccountEvent,
    AccountEventAction,
    ApiToken,
    Invitation,
    Notification,
    Role,
    SenderDomain,
    TermsAcceptance,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from accounts.states import AccountState, ensure_transition
from accounts.team import account_event_record
from config import coded_text
from config.account_data import AccountDataStep, deleted
from config.errors import ApplicationError, NotFound
from config.text import clean_header_text

EMAIL_VERIFICATION_SALT = "accounts.email-verification"


def _validate_password(password: str, *, user: User | None = None) -> None:
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), field="password") from exc


def account_sign_up_problems(
    *,
    company_name: str,
    contact_name: str,
    email: str,
    phone: str,
    postal_address: str,
    password: str,
    accepted_terms: bool,
    accepted_privacy: bool,
) -> dict[str, list[str]]:
    """Every reason account_sign_up would refuse these values, by field (empty: none), so the
    sign-up page can show them all at once instead of one per attempt. Writes nothing."""
    problems: dict[str, list[str]] = {}

    def refuse(field: str, message: str) -> None:
        problems.setdefault(field, []).append(str(message))

    if not accepted_terms:
        refuse("accept_terms", _("You must accept the terms of service."))
    if not accepted_privacy:
        refuse("accept_privacy", _("You must accept the privacy policy."))
    required = {
        "company_name": company_name,
        "contact_name": contact_name,
        "phone": phone,
        "postal_address": postal_address,
    }
    for name, value in required.items():
        if not (value or "").strip():
            refuse(name, _("This field is required."))
    if "company_name" not in problems:
        try:
            clean_header_text(company_name.strip(), field="company_name")
        except ApplicationError as exc:
            refuse("company_name", exc.message)
    try:
        email = normalise_address(email)
    except ApplicationError as exc:
        refuse("email", exc.message)
    else:
        if User.objects.filter(email__iexact=email).exists():
            refuse("email", _("An account with this e-mail address already exists."))
    try:
        _validate_password(password, user=User(email=email, first_name=contact_name))
    except ApplicationError as exc:
        refuse("password", exc.message)
    return problems


@transaction.atomic
def account_sign_up(
    *,
    company_name: str,
    contact_name: str,
    email: str,
    phone: str,
    postal_address: str,
    password: str,
    accepted_terms: bool,
    accepted_privacy: bool,
    ip: str | None = None,
    user_agent: str = "",
    language: str = "",
) -> User:
    """Create an account and its owner, record the terms acceptance, e-mail a verification link.

    Refuses (ApplicationError naming the field) without explicit acceptance of both the terms and
    the privacy policy, with an address in use, or with a weak password; nothing is written then.
    `language` (one of settings.LANGUAGES: the sign-up page's) becomes the user's language, so the
    verification link and later notifications arrive in it. The verification e-mail is enqueued
    after commit.
    """
    problems = account_sign_up_problems(
        company_name=company_name,
        contact_name=contact_name,
        email=email,
        phone=phone,
        postal_address=postal_address,
        password=password,
        accepted_terms=accepted_terms,
        accepted_privacy=accepted_privacy,
    )
    if problems:
        field, messages = next(iter(problems.items()))
        raise ApplicationError(messages[0], field=field)
    # The company name is the display name of the double opt-in e-mails' From.
    company_name = clean_header_text(company_name.strip(), field="company_name")
    email = normalise_address(email)

    account = Account.objects.create(
        company_name=company_name.strip(),
        contact_name=contact_name.strip(),
        phone=phone.strip(),
        postal_address=postal_address.strip(),
    )
    try:
        user = User.objects.create_user(
            email=email,
            password=password,
            account=account,
            first_name=contact_name.strip()[:150],
            language=language if language in dict(settings.LANGUAGES) else "",
        )
    except IntegrityError as exc:  # a concurrent sign-up with the same address won the race
        raise ApplicationError(
            _("An account with this e-mail address already exists."), field="email"
        ) from exc
    TermsAcceptance.objects.create(
        user=user,
        terms_version=settings.TERMS_VERSION,
        privacy_version=settings.PRIVACY_VERSION,
        accepted_at=timezone.now(),
        ip=ip or None,
        user_agent=(user_agent or "")[:500],
    )
    user_request_email_verification(user=user)
    return user


def user_request_email_verification(*, user: User, language: str = "") -> None:
    """Enqueue (after commit) an e-mail with a signed link that verifies the user's address, in
    the user's language, else in `language` (the page's that asked)."""
    from accounts.tasks import send_verification_email

    user_id = user.pk
    transaction.on_commit(lambda: send_verification_email.delay(user_id, language))


def email_verification_token(user: User) -> str:
    """A signed, expiring token naming the user and the address it verifies."""
    return signing.dumps({"u": user.pk, "e": user.email}, salt=EMAIL_VERIFICATION_SALT)


def user_language(user: User, fallback: str = "") -> str:
    """The language to write to `user` in: their own choice, else `fallback` (the language of the
    page that led to the message) when it is one of settings.LANGUAGES, else the default."""
    for language in (user.language, fallback):
        if language in dict(settings.LANGUAGES):
            return language
    return settings.LANGUAGE_CODE


def user_send_verification_email(*, user_id: int, language: str = "") -> bool:
    """Send the verification link, in the user's language (`user_language`). Quietly does
    nothing for a gone or already verified user."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or user.is_email_verified:
        return False
    link = settings.SITE_URL + reverse(
        "verify_email", kwargs={"token": email_verification_token(user)}
    )
    context = {"user": user, "link": link, "service_name": settings.SERVICE_NAME}
    with translation.override(user_language(user, language)):
        subject = _("Confirm your e-mail address for %(service)s") % {
            "service": settings.SERVICE_NAME
        }
        text = render_to_string("accounts/email/verify_email.txt", context)
        html = render_to_string("accounts/email/verify_email.html", context)
    send_mail(
        subject=subject,
        message=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
        html_message=html,
    )
    return True


def user_verify_email(*, token: str) -> User:
    """Mark the address in a verification token as verified. Idempotent; raises NotFound if bad."""
    try:
        payload = signing.loads(
            token, salt=EMAIL_VERIFICATION_SALT, max_age=settings.EMAIL_VERIFICATION_MAX_AGE
        )
    except signing.BadSignature as exc:  # includes SignatureExpired
        raise NotFound(_("This verification link is invalid or has expired.")) from exc
    user = User.objects.filter(pk=payload.get("u"), email=payload.get("e")).first()
    if user is None:
        raise NotFound(_("This verification link is invalid or has expired."))
    if not user.is_email_verified:
        User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(
            email_verified_at=timezone.now()
        )
        user.refresh_from_db()
    return user


@transaction.atomic
def account_profile_update(
    *,
    account: Account,
    company_name: str,
    contact_name: str,
    phone: str,
    postal_address: str,
    website: str = "",
    actor: User | None = None,
    via: object = None,
) -> Account:
    """Keep the identity shown in every message current; every field but website is required.
    Records who changed which fields (accounts.team), when anything changed."""
    values = {
        "company_name": company_name,
        "contact_name": contact_name,
        "phone": phone,
        "postal_address": postal_address,
    }
    for name, value in values.items():
        if not (value or "").strip():
            raise ApplicationError(_("This field is required."), field=name)
    values["company_name"] = clean_header_text(company_name.strip(), field="company_name")
    account = Account.objects.select_for_update().get(pk=account.pk)
    values = {name: value.strip() for name, value in values.items()}
    values["website"] = (website or "").strip()
    changed = sorted(name for name, value in values.items() if getattr(account, name) != value)
    for name, value in values.items():
        setattr(account, name, value)
    # Only the identity: the state and the rest have writers of their own.
    account.save(update_fields=list(values))
    if changed:
        account_event_record(
            account=account,
            actor=actor,
            action=AccountEventAction.PROFILE_UPDATED,
            details={"fields": changed},
            via=via,
        )
    return account


@transaction.atomic
def account_create(
    *,
    email: str,
    password: str,
    company: str,
    staff: bool = False,
    verified_domain: str | None = None,
) -> User:
    """Operator set-up: an active account whose owner's address is already verified.

    With `staff` the user is a moderator as well; with `verified_domain` a sender domain is added
    and marked verified without a DNS check (operators only; customers always verify through DNS).
    """
    email = normalise_address(email)
    if User.objects.filter(email__iexact=email).exists():
        raise ApplicationError(f"A user with the address {email} already exists.", field="email")
    company = clean_header_text(company, field="company")
    account = Account.objects.create(
        company_name=company, contact_name=company, phone="", postal_address=""
    )
    user = User.objects.create_user(
        email=email,
        password=password,
        account=account,
        is_staff=staff,
        email_verified_at=timezone.now(),
    )
    if verified_domain:
        domain = sender_domain_add(account=account, domain=verified_domain)
        domain.verified_at = timezone.now()
        domain.findings = {
            "verification": {
                "status": "ok",
                "records": [],
                "messages": [coded_text.coded("accounts.dns.verification_by_operator")],
            }
        }
        domain.save(update_fields=["verified_at", "findings"])
    return user


def moderator_create(*, email: str, password: str) -> User:
    """Operator set-up: a moderator (staff) with a verified address and no sending account, so
    they never moderate campaigns of their own. Raises ApplicationError for a taken address."""
    email = normalise_address(email)
    if User.objects.filter(email__iexact=email).exists():
        raise ApplicationError(f"A user with the address {email} already exists.", field="email")
    return User.objects.create_user(
        email=email,
        password=password,
        account=None,
        is_staff=True,
        email_verified_at=timezone.now(),
    )


def _token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(
    *, user: User, name: str, read_only: bool = False, via: object = None
) -> tuple[ApiToken, str]:
    """Make a named API token for the user's account; returns the row and the key (shown once).
    The token records the user's role now and never acts above it (accounts.roles); a token
    made with a token is capped by that token's role too."""
    if user.account_id is None:
        raise ApplicationError(_("Only users of a sender account can have API tokens."))
    name = (name or "").strip()
    if not name:
        raise ApplicationError(_("Give the token a name."), field="name")
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        account_id=user.account_id,
        user=user,
        name=name[:100],
        prefix=key[:8],
        key_digest=_token_digest(key),
        read_only=read_only or (isinstance(via, ApiToken) and via.read_only),
        role=roles.effective_role(user, via),
    )
    account = user.account
    assert account is not None  # account_id was checked above
    account_event_record(
        account=account,
        actor=user,
        action=AccountEventAction.TOKEN_CREATED,
        subject=token.name,
        details={"role": token.role, "read_only": token.read_only},
        via=via,
    )
    return token, key


def api_token_revoke(
    *, account: Account, token_id: int, actor: User | None = None, via: object = None
) -> ApiToken:
    """Revoke one of the account's tokens. Idempotent; another account's token is NotFound, and
    so is a colleague's for a member who is not an owner (they manage their own)."""
    tokens = ApiToken.objects.filter(account=account)
    if actor is not None and actor.role != Role.OWNER:
        tokens = tokens.filter(user=actor)
    token = tokens.filter(pk=token_id).first()
    if token is None:
        raise NotFound("No such token.")
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    token.refresh_from_db()
    if revoked:
        account_event_record(
            account=account,
            actor=actor,
            action=AccountEventAction.TOKEN_REVOKED,
            subject=token.name,
            via=via,
        )
    return token


def api_token_authenticate(*, key: str) -> ApiToken | None:
    """The active token for a presented key, with its user, or None; records its last use."""
    token = (
        ApiToken.objects.select_related("user", "account")
        .filter(key_digest=_token_digest(key), revoked_at__isnull=True)
        .first()
    )
    # A member who left (or moved) no longer acts for the account through old tokens.
    if token is None or not token.user.is_active or token.user.account_id != token.account_id:
        return None
    # The user's account is the token's (checked above), already read with it: without this, the
    # first `request.user.account` of every API request read the same row again.
    token.user.account = token.account
    now = timezone.now()
    # Write at most once a minute per token: a busy integration must not turn reads into writes.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def _clean_dkim_selector(value: str) -> str:
    """RFC 6376 selectors are dot-separated labels of letters, digits, '-' and '_'."""
    selector = (value or "").strip().lower()
    labels = selector.split(".")
    if selector and not all(
        label and len(label) <= 63 and all(ch.isalnum() or ch in "-_" for ch in label)
        for label in labels
    ):
        raise ApplicationError(
            _("A DKIM selector is labels of letters, digits, '-' and '_', separated by dots."),
            field="dkim_selector",
        )
    return selector


def sender_domain_add(*, account: Account, domain: str, dkim_selector: str = "") -> SenderDomain:
    """Add a domain to the account with a fresh TXT verification token and a DKIM key pair of
    ours (`dkim_selector`: an ESP's, checked instead when an ESP sends). Refuses duplicates."""
    try:
        name = sender_dns.normalise_domain(domain)
    except ValueError as exc:
        raise ApplicationError(str(exc), field="domain") from exc
    selector = _clean_dkim_selector(dkim_selector)
    key = dkim.generate_key_pair()
    try:
        with transaction.atomic():
            return SenderDomain.objects.create(
                account=account,
                domain=name,
                dkim_selector=selector,
                verification_token=secrets.token_hex(16),
                signing_selector=dkim.new_selector(),
                signing_key=key.encrypted_private_key,
                signing_public_key=key.public_key,
            )
    except IntegrityError as exc:
        raise ApplicationError(
            _("%(domain)s is already one of your sender domains.") % {"domain": name},
            field="domain",
        ) from exc


def sender_domain_verify(*, account: Account, domain_id: int) -> SenderDomain:
    """Check the domain's DNS now: ownership token, SPF, DMARC, DKIM; store the findings.

    The domain is verified while its TXT token is published; a check that no longer finds it
    withdraws the verification. A DNS failure (timeout) is an ApplicationError and changes nothing.
    """
    sender_domain = SenderDomain.objects.filter(account=account, pk=domain_id).first()
    if sender_domain is None:
        raise NotFound("No such sender domain.")
    return _sender_domain_check(sender_domain)


SIGNING_KEY_FIELDS = [
    "signing_selector",
    "signing_key",
    "signing_public_key",
    "next_signing_selector",
    "next_signing_key",
    "next_signing_public_key",
    "retired_signing_selector",
    "retired_signing_public_key",
    "dkim_published_at",
]


def sender_domain_ensure_key(*, sender_domain: SenderDomain) -> SenderDomain:
    """Give a domain added before we signed its DKIM key pair. Idempotent: a domain with a key
    keeps it (the conditional update makes two concurrent calls agree on one key)."""
    if sender_domain.signing_key:
        return sender_domain
    key = dkim.generate_key_pair()
    SenderDomain.objects.filter(pk=sender_domain.pk, signing_key="").update(
        signing_selector=dkim.new_selector(),
        signing_key=key.encrypted_private_key,
        signing_public_key=key.public_key,
    )
    sender_domain.refresh_from_db(fields=SIGNING_KEY_FIELDS)
    return sender_domain


def _sender_domain_check(sender_domain: SenderDomain) -> SenderDomain:
    """Run the DNS checks for a loaded domain and store them; LookupFailed -> ApplicationError.

    When we sign, the DKIM check is of our key at our selector, and a rotation's new key that is
    now published replaces the current one (which stays listed as retired)."""
    we_sign = dkim.we_sign()
    if we_sign:
        sender_domain_ensure_key(sender_domain=sender_domain)
    try:
        findings = sender_dns.check_domain(
            sender_domain.domain,
            expected_token_record=sender_domain.txt_record_value,
            **(
                {
                    "dkim_selector": sender_domain.signing_selector,
                    "dkim_public_key": sender_domain.signing_public_key,
                    "next_dkim_selector": sender_domain.next_signing_selector,
                    "next_dkim_public_key": sender_domain.next_signing_public_key,
                    "spf_include": settings.SPF_INCLUDE,
                }
                if we_sign
                else {"dkim_selector": sender_domain.dkim_selector}
            ),
        )
    except sender_dns.LookupFailed as exc:
        raise ApplicationError(
            _("The DNS check could not be completed: %(error)s. Try again.") % {"error": exc}
        ) from exc
    now = timezone.now()
    with transaction.atomic():
        locked = SenderDomain.objects.select_for_update().get(pk=sender_domain.pk)
        fields = ["findings", "last_checked_at", "verified_at"]
        if we_sign and locked.signing_public_key == sender_domain.signing_public_key:
            # (A rotation that happened meanwhile is judged at the next check.)
            if findings.dkim_next is not None and findings.dkim_next.status == "ok":
                _promote_next_key(locked)
                findings.dkim, findings.dkim_next = findings.dkim_next, None
            locked.dkim_published_at = (
                (locked.dkim_published_at or now) if findings.dkim.status == "ok" else None
            )
            fields += SIGNING_KEY_FIELDS
        locked.findings = findings.as_dict()
        if we_sign:
            # Which keys were looked at: the page shows a check only for the selector it was of.
            locked.findings["dkim_selector"] = locked.signing_selector
            locked.findings["dkim_next_selector"] = locked.next_signing_selector
        locked.last_checked_at = now
        locked.verified_at = (locked.verified_at or now) if findings.is_verified else None
        locked.save(update_fields=fields)
    dkim.clear_key_cache()
    return locked


def _promote_next_key(sender_domain: SenderDomain) -> None:
    """The rotation's new key becomes the one we sign with; the old selector is kept as
    retired, so mail already signed with it still verifies while its record stays up."""
    sender_domain.retired_signing_selector = sender_domain.signing_selector
    sender_domain.retired_signing_public_key = sender_domain.signing_public_key
    sender_domain.signing_selector = sender_domain.next_signing_selector
    sender_domain.signing_key = sender_domain.next_signing_key
    sender_domain.signing_public_key = sender_domain.next_signing_public_key
    sender_domain.next_signing_selector = ""
    sender_domain.next_signing_key = ""
    sender_domain.next_signing_public_key = ""
    sender_domain.dkim_published_at = None


def sender_domain_rotate_key(*, account: Account, domain_id: int) -> SenderDomain:
    """Start a DKIM key rotation without a gap: a new key pair under a new selector, to publish
    beside the current one. We keep signing with the current key until a check sees the new
    one in DNS. Idempotent: a rotation already waiting is returned as it is. Locks the row."""
    with transaction.atomic():
        sender_domain = (
            SenderDomain.objects.select_for_update().filter(account=account, pk=domain_id).first()
        )
        if sender_domain is None:
            raise NotFound("No such sender domain.")
        if sender_domain.next_signing_key:
            return sender_domain
        if not sender_domain.signing_key:
            raise ApplicationError(_("This domain has no key to rotate yet."))
        key = dkim.generate_key_pair()
        sender_domain.next_signing_selector = dkim.new_selector()
        sender_domain.next_signing_key = key.encrypted_private_key
        sender_domain.next_signing_public_key = key.public_key
        sender_domain.save(
            update_fields=["next_signing_selector", "next_signing_key", "next_signing_public_key"]
        )
    return sender_domain


def sender_domains_recheck(*, older_than: timedelta, limit: int = 500) -> dict[str, int]:
    """Re-check verified domains last checked before `older_than` ago (a published token can be
    removed later). A domain whose DNS cannot be asked keeps its state until the next run."""
    cutoff = timezone.now() - older_than
    due = SenderDomain.objects.filter(verified_at__isnull=False, last_checked_at__lt=cutoff)
    counts = {"checked": 0, "withdrawn": 0, "failed": 0}
    for sender_domain in due.order_by("last_checked_at")[:limit]:
        try:
            checked = _sender_domain_check(sender_domain)
        except ApplicationError:
            counts["failed"] += 1
            continue
        counts["checked"] += 1
        counts["withdrawn"] += 0 if checked.is_verified else 1
    return counts


def sender_domain_update_selector(
    *, account: Account, domain_id: int, dkim_selector: str
) -> SenderDomain:
    """Change the DKIM selector that the next check looks at."""
    sender_domain = SenderDomain.objects.filter(account=account, pk=domain_id).first()
    if sender_domain is None:
        raise NotFound("No such sender domain.")
    selector = _clean_dkim_selector(dkim_selector)
    sender_domain.dkim_selector = selector
    sender_domain.save(update_fields=["dkim_selector"])
    return sender_domain


def sender_domain_delete(*, account: Account, domain_id: int) -> None:
    """Remove one of the account's sender domains."""
    deleted, _ = SenderDomain.objects.filter(account=account, pk=domain_id).delete()
    if not deleted:
        raise NotFound("No such sender domain.")


def notify(
    account: Account, code: str, *, level: str = "info", link: str = "", **params: Any
) -> Notification:
    """Tell an account's users something (a moderation decision, a probe's verdict, a system
    notice): shown in the UI until read, and e-mailed by a worker once the transaction commits.

    `code` names a notice declared in a `texts.py` (accounts.texts.notice): its subject and
    body are stored as coded text with `params`, and rendered in each reader's language, on
    the page and in the e-mail. Text a person typed (a moderator's reason) is a parameter,
    shown as typed. Raises KeyError for an undeclared notice."""
    from accounts import tasks

    subject = coded_text.coded(f"{code}.subject", **params)
    body_code = f"{code}.body"
    body = coded_text.coded(body_code, **params) if coded_text.is_defined(body_code) else ""
    notification = Notification.objects.create(
        account=account, subject=subject, body=body, link=link[:300], level=level
    )
    transaction.on_commit(lambda: tasks.send_notification_email.delay(notification.pk))
    return notification


def notification_send_email(*, notification_id: int) -> int:
    """E-mail a notification to the account's active users with a verified address, each in
    their language (the subject and body too: they are stored as codes); safe to run twice
    (sends once). Returns how many were e-mailed."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update()
            .select_related("account")
            .filter(pk=notification_id, emailed_at__isnull=True)
            .first()
        )
        if notification is None:
            return 0
        # One message per language, each to the users who read that one.
        by_language: dict[str, list[str]] = {}
        for user in notification.account.users.filter(is_active=True).order_by("pk"):
            if user.is_email_verified:
                by_language.setdefault(user_language(user), []).append(user.email)
        notification.emailed_at = timezone.now()
        notification.save(update_fields=["emailed_at"])
    context = {
        "notification": notification,
        "link": settings.SITE_URL + notification.link if notification.link else "",
        "notifications_link": settings.SITE_URL + reverse("notifications"),
        "service_name": settings.SERVICE_NAME,
    }
    for language, recipients in by_language.items():
        # The stored subject and body are codes: each language renders its own words.
        with translation.override(language):
            message = render_to_string("accounts/email/notification.txt", context)
            subject = coded_text.render(notification.subject)
        send_mail(
            subject=f"[{settings.SERVICE_NAME}] {' '.join(subject.split())}",
            message=message,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
    return sum(len(recipients) for recipients in by_language.values())


def notification_mark_read(*, account: Account, notification_id: int | None = None) -> int:
    """Mark one of the account's notifications (or all) read."""
    unread = Notification.objects.filter(account=account, read_at__isnull=True)
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    return unread.update(read_at=timezone.now())


def account_brand_update(
    *,
    account: Account,
    logo: UploadedFile | None = None,
    remove_logo: bool = False,
    brand_color: str = "",
) -> Account:
    """Set the branding recipient pages show: a new logo (PNG, JPEG, GIF or WebP, recognised by
    its first bytes, at most BRAND_LOGO_MAX_BYTES), or none, and the brand colour. Refused
    input changes nothing. The new logo gets a new random name (its URL is cached for good);
    the old file is deleted after commit. Locks the account row."""
    color = branding.normalise_color(brand_color)
    if color is None:
        raise ApplicationError(
            _("Give the colour as six hexadecimal digits, e.g. #1f6feb."), field="brand_color"
        )
    content = content_type = None
    if logo is not None:
        limit = settings.BRAND_LOGO_MAX_BYTES
        content = logo.read(limit + 1)
        if len(content) > limit:
            raise ApplicationError(
                _("The logo may be at most %(size)s KB; make it smaller and try again.")
                % {"size": limit // 1024},
                field="logo",
            )
        content_type = branding.image_type(content[:12])
        if content_type is None:
            raise ApplicationError(
                _("Upload a PNG, JPEG, GIF or WebP image. SVG and other files are not accepted."),
                field="logo",
            )
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account.pk)
        old_name = account.logo.name if account.logo else ""
        if content is not None and content_type is not None:
            account.logo.save(secrets.token_hex(16), ContentFile(content), save=False)
            account.logo_content_type = content_type
        elif remove_logo:
            account.logo = ""
            account.logo_content_type = ""
        account.brand_color = color
        account.save(update_fields=["logo", "logo_content_type", "brand_color"])
        new_name = account.logo.name if account.logo else ""
        if old_name and old_name != new_name:
            storage = Account._meta.get_field("logo").storage
            transaction.on_commit(lambda: storage.delete(old_name))
    return account


def terms_accept(*, user: User, ip: str | None = None, user_agent: str = "") -> TermsAcceptance:
    """Record that `user` accepted the current terms and privacy versions (settings
    TERMS_VERSION, PRIVACY_VERSION), with the time, client IP and user agent. Idempotent: when
    the latest acceptance already names both current versions, it is returned and nothing is
    written."""
    latest = TermsAcceptance.objects.filter(user=user).order_by("-accepted_at", "-pk").first()
    if (
        latest is not None
        and latest.terms_version == settings.TERMS_VERSION
        and latest.privacy_version == settings.PRIVACY_VERSION
    ):
        return latest
    return TermsAcceptance.objects.create(
        user=user,
        terms_version=settings.TERMS_VERSION,
        privacy_version=settings.PRIVACY_VERSION,
        accepted_at=timezone.now(),
        ip=ip or None,
        user_agent=(user_agent or "")[:500],
    )


# --- the account's state (accounts.states) and the deletion of its data ------------------------


def account_state_change(
    *,
    account: Account,
    state: str,
    reason: str,
    reason_code: Any = None,
    now: datetime | None = None,
    deletion_due_at: datetime | None = None,
) -> Account:
    """The one writer of `Account.state`: InvalidTransition unless accounts.states allows the
    change. `reason` is the English copy (or what a moderator typed); `reason_code`, when the
    system wrote the reason, is what readers see, each in their language. `deletion_due_at` is
    kept only by an account scheduled for deletion (and, as a record, by a deleted one). The
    caller holds the account's row lock and writes the audit entry."""
    ensure_transition(account.state, state)
    account.state = state
    account.state_changed_at = now or timezone.now()
    account.state_reason = reason
    account.state_reason_code = reason_code
    if state == AccountState.SCHEDULED_FOR_DELETION:
        account.deletion_due_at = deletion_due_at
    elif state != AccountState.DELETED:
        account.deletion_due_at = None
    account.save(
        update_fields=[
            "state",
            "state_changed_at",
            "state_reason",
            "state_reason_code",
            "deletion_due_at",
        ]
    )
    return account


def account_data_delete(*, account: Account) -> dict[str, int]:
    """The accounts app's step of deleting an account's data (moderation runs the steps in one
    transaction): sender domains, API tokens, webhooks and their deliveries, notifications, the
    team's log and invitations (they name people) go; the users are deactivated and anonymised
    (staff users only leave the account). The account row itself stays: account_anonymise."""
    counts = {
        "sender_domains": deleted(SenderDomain.objects.filter(account=account)),
        "api_tokens": deleted(ApiToken.objects.filter(account=account)),
    }
    counts["webhook_deliveries"] = deleted(
        WebhookDelivery.objects.filter(endpoint__account=account)
    )
    counts["webhook_endpoints"] = deleted(WebhookEndpoint.objects.filter(account=account))
    counts["notifications"] = deleted(Notification.objects.filter(account=account))
    counts["account_events"] = deleted(AccountEvent.objects.filter(account=account))
    counts["invitations"] = deleted(Invitation.objects.filter(account=account))
    counts["users_anonymised"] = _users_anonymise(account)
    return counts


def _users_anonymise(account: Account) -> int:
    """Deactivate the account's users and strip what identifies them (their address becomes
    a placeholder; the audit log keeps its own label). Staff users only leave the account."""
    users = list(User.objects.filter(account=account))
    TermsAcceptance.objects.filter(user__in=[u.pk for u in users if not u.is_staff]).delete()
    anonymised = 0
    for user in users:
        if user.is_staff:
            user.account = None
            user.save(update_fields=["account"])
            continue
        user.email = f"deleted-user-{user.pk}@deleted.invalid"
        user.first_name = ""
        user.last_name = ""
        user.is_active = False
        user.email_verified_at = None
        # A new (unusable) password also ends every open session of the user.
        user.set_unusable_password()
        user.save()
        anonymised += 1
    return anonymised


def account_anonymise(*, account: Account) -> Account:
    """The last step of deleting an account's data: the row stays (for the hashed suppressions
    and the audit log) without what identifies the company, in state "deleted"; its logo file is
    deleted after commit. The caller holds the account's row lock."""
    logo = account.logo.name if account.logo else ""
    account.company_name = f"Deleted account {account.pk}"
    account.contact_name = ""
    account.phone = ""
    account.postal_address = ""
    account.website = ""
    account.logo = ""
    account.logo_content_type = ""
    account.brand_color = ""
    account.save(
        update_fields=[
            "company_name",
            "contact_name",
            "phone",
            "postal_address",
            "website",
            "logo",
            "logo_content_type",
            "brand_color",
        ]
    )
    # The reason the account was scheduled for deletion stays its last word.
    account_state_change(
        account=account,
        state=AccountState.DELETED,
        reason=account.state_reason,
        reason_code=account.state_reason_code,
    )
    if logo:
        storage = Account._meta.get_field("logo").storage
        transaction.on_commit(lambda: storage.delete(logo))
    return account


ACCOUNT_DATA = AccountDataStep(
    app="accounts",
    run=account_data_delete,
    deletes=(
        SenderDomain,
        ApiToken,
        WebhookEndpoint,
        WebhookDelivery,
        Notification,
        AccountEvent,
        Invitation,
        TermsAcceptance,
    ),
    keeps={
        Account: "the row stays, anonymised (account_anonymise), for the suppressions and audit",
        User: "deactivated and anonymised; the audit log and the moderators' records name them",
        User.groups.through: "a user's groups stay with the (anonymised) user",
        User.user_permissions.through: "a user's permissions stay with the (anonymised) user",
        "admin.LogEntry": "staff users' admin log: only staff act in the admin",
    },
)
