"""The team of an account: invitations, roles, removing members, transferring the ownership,
and the log of who changed what (`AccountEvent`).

Only an owner manages the team (accounts.roles refuses the others before these run; the
services check again, so that a caller elsewhere cannot skip it). An account always keeps at
least one owner: the last owner cannot be demoted or removed. Transferring the ownership makes
the colleague an owner and the one who transfers an editor, so a transfer leaves exactly one
owner where there was one (other owners, invited as such, stay owners).

Every change locks the account row first, so two owners acting at once cannot both demote
each other and leave none. An invitation is a row plus a signed, expiring token naming it
(django.core.signing); it is good once, until it expires or is withdrawn.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.addresses import normalise_address
from accounts.models import (
    Account,
    AccountEvent,
    AccountEventAction,
    AccountState,
    ApiToken,
    Invitation,
    Role,
    User,
)
from config.errors import ApplicationError, NotFound, PermissionDenied

INVITATION_SALT = "accounts.team-invitation"


# --- the log --------------------------------------------------------------------------------------


def account_event_record(
    *,
    account: Account,
    actor: User | None,
    action: str,
    subject: str = "",
    details: dict | None = None,
    via: object = None,
) -> AccountEvent:
    """Write who did what to the account (never edited later). `via` is the API token the
    request came with, if any: the entry names it."""
    return AccountEvent.objects.create(
        account=account,
        actor=actor,
        actor_label=actor.email if actor is not None else "",
        via=f"API token {via.name} ({via.prefix}…)" if isinstance(via, ApiToken) else "",
        action=action,
        subject=subject[:254],
        details=details or {},
    )


def account_events(*, account: Account) -> QuerySet[AccountEvent]:
    """The account's changes, newest first."""
    return AccountEvent.objects.filter(account=account).order_by("-at", "-id")


# --- reading the team -----------------------------------------------------------------------------


def team_members(*, account: Account) -> QuerySet[User]:
    """The account's active members: owners first, then by address."""
    rank = Case(
        When(role=Role.OWNER, then=Value(0)),
        When(role=Role.EDITOR, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return (
        User.objects.filter(account=account, is_active=True)
        .annotate(role_rank=rank)
        .order_by("role_rank", "email")
    )


def member_for(*, account: Account, user_id: int) -> User:
    """One active member of the account; NotFound for anyone else (another account's too)."""
    member = User.objects.filter(account=account, pk=user_id, is_active=True).first()
    if member is None:
        raise NotFound(_("No such member."))
    return member


def pending_invitations(*, account: Account) -> QuerySet[Invitation]:
    """Invitations of the account not yet accepted, withdrawn or expired."""
    return Invitation.objects.filter(
        account=account,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).select_related("invited_by")


# --- invitations ----------------------------------------------------------------------------------


def _locked_account(account: Account) -> Account:
    return Account.objects.select_for_update().get(pk=account.pk)


def _ensure_owner(account: Account, actor: User) -> None:
    if actor.account_id != account.pk or actor.role != Role.OWNER or not actor.is_active:
        raise PermissionDenied(_("Only the account's owner can do this."))


def _clean_role(role: str) -> str:
    if role not in Role.values:
        raise ApplicationError(_("Choose a role: owner, editor or viewer."), field="role")
    return role


def _taken(email: str) -> str:
    return _(
        "%(email)s already uses %(service)s with another account; a person belongs to one account."
    ) % {"email": email, "service": settings.SERVICE_NAME}


def invitation_token(invitation: Invitation) -> str:
    """The signed token of the e-mailed link: names the invitation and its address."""
    return signing.dumps({"i": invitation.pk, "e": invitation.email}, salt=INVITATION_SALT)


def invitation_link(invitation: Invitation) -> str:
    return settings.SITE_URL + reverse("team_join", kwargs={"token": invitation_token(invitation)})


@transaction.atomic
def invitation_create(
    *, account: Account, invited_by: User, email: str, role: str, via: object = None
) -> Invitation:
    """Invite `email` to the account as `role` and e-mail the link (after commit). Inviting an
    address again withdraws its earlier invitation. Refuses a member's address and an address
    that belongs to another account or to staff (one account per person)."""
    account = _locked_account(account)
    _ensure_owner(account, invited_by)
    role = _clean_role(role)
    try:
        email = normalise_address(email)
    except ApplicationError as exc:
        raise ApplicationError(exc.message, field="email") from exc
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        if existing.account_id == account.pk and existing.is_active:
            raise ApplicationError(
                _("%(email)s is already on the team.") % {"email": email}, field="email"
            )
        if existing.account_id is not None or existing.is_staff:
            raise ApplicationError(
                _taken(email),
                field="email",
            )
    now = timezone.now()
    Invitation.objects.filter(
        account=account, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    invitation = Invitation.objects.create(
        account=account,
        email=email,
        role=role,
        invited_by=invited_by,
        expires_at=now + timedelta(days=settings.INVITATION_DAYS),
    )
    account_event_record(
        account=account,
        actor=invited_by,
        action=AccountEventAction.INVITED,
        subject=email,
        details={"role": role},
        via=via,
    )
    from accounts.tasks import send_invitation_email

    invitation_id, language = invitation.pk, translation.get_language() or ""
    transaction.on_commit(lambda: send_invitation_email.delay(invitation_id, language))
    return invitation


def invitation_send_email(*, invitation_id: int, language: str = "") -> bool:
    """E-mail the invitation's link, in the inviting page's language. Does nothing for an
    invitation no longer pending (safe to run twice: at worst the same link twice)."""
    invitation = (
        Invitation.objects.select_related("account", "invited_by")
        .filter(pk=invitation_id, accepted_at__isnull=True, revoked_at__isnull=True)
        .first()
    )
    if invitation is None or invitation.expires_at <= timezone.now():
        return False
    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE
    context = {
        "invitation": invitation,
        "company": invitation.account.company_name,
        "inviter": invitation.invited_by.email if invitation.invited_by else "",
        "link": invitation_link(invitation),
        "service_name": settings.SERVICE_NAME,
        "days": settings.INVITATION_DAYS,
    }
    with translation.override(language):
        context["role"] = Role(invitation.role).label
        subject = _("%(company)s invites you to %(service)s") % {
            "company": invitation.account.company_name,
            "service": settings.SERVICE_NAME,
        }
        text = render_to_string("accounts/email/invitation.txt", context)
    send_mail(
        subject=subject,
        message=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[invitation.email],
    )
    return True


def invitation_for_token(token: str) -> Invitation:
    """The pending invitation a link names. NotFound for a tampered, expired, withdrawn or
    used link (one message for all: the link tells nobody which)."""
    gone = NotFound(_("This invitation is invalid, has expired or was already used."))
    try:
        payload = signing.loads(
            token, salt=INVITATION_SALT, max_age=timedelta(days=settings.INVITATION_DAYS)
        )
    except signing.BadSignature as exc:  # includes SignatureExpired
        raise gone from exc
    invitation = (
        Invitation.objects.select_related("account", "invited_by")
        .filter(pk=payload.get("i"), email=payload.get("e"))
        .first()
    )
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= timezone.now()
        or invitation.account.state == AccountState.DELETED
    ):
        raise gone
    return invitation


@transaction.atomic
def invitation_accept(
    *, token: str, password: str, first_name: str = "", last_name: str = ""
) -> User:
    """Join the invited person to the account with the invitation's role: a new user, or a
    former member coming back (their address is verified by the link). Once only; locks the
    invitation row."""
    from accounts.services import _validate_password

    invitation = invitation_for_token(token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise NotFound(_("This invitation is invalid, has expired or was already used."))
    account = _locked_account(invitation.account)
    user = User.objects.select_for_update().filter(email__iexact=invitation.email).first()
    if user is not None and (user.account_id is not None or user.is_staff):
        raise ApplicationError(_taken(invitation.email))
    if user is None:
        user = User(email=invitation.email)
    _validate_password(password, user=user)
    user.set_password(password)
    user.account = account
    user.role = invitation.role
    user.is_active = True
    user.email_verified_at = user.email_verified_at or timezone.now()
    user.first_name = (first_name or "").strip()[:150]
    user.last_name = (last_name or "").strip()[:150]
    user.save()
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    account_event_record(
        account=account,
        actor=user,
        action=AccountEventAction.JOINED,
        subject=user.email,
        details={
            "role": invitation.role,
            "invited_by": invitation.invited_by.email if invitation.invited_by else "",
        },
    )
    return user


@transaction.atomic
def invitation_revoke(
    *, account: Account, invitation_id: int, actor: User, via: object = None
) -> Invitation:
    """Withdraw a pending invitation (its link stops working). Idempotent; another account's
    invitation is NotFound."""
    account = _locked_account(account)
    _ensure_owner(account, actor)
    invitation = Invitation.objects.filter(account=account, pk=invitation_id).first()
    if invitation is None:
        raise NotFound(_("No such invitation."))
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        account_event_record(
            account=account,
            actor=actor,
            action=AccountEventAction.INVITATION_REVOKED,
            subject=invitation.email,
            via=via,
        )
    return invitation


# --- members --------------------------------------------------------------------------------------


def _member(account: Account, user_id: int) -> User:
    member = (
        User.objects.select_for_update().filter(account=account, pk=user_id, is_active=True).first()
    )
    if member is None:
        raise NotFound(_("No such member."))
    return member


def _other_owners(account: Account, member: User) -> int:
    return (
        User.objects.filter(account=account, role=Role.OWNER, is_active=True)
        .exclude(pk=member.pk)
        .count()
    )


@transaction.atomic
def member_role_change(
    *, account: Account, user_id: int, role: str, actor: User, via: object = None
) -> User:
    """Give a member another role. The last owner keeps theirs (transfer the ownership
    instead). Idempotent. Their API tokens follow at once (accounts.roles.effective_role)."""
    account = _locked_account(account)
    _ensure_owner(account, actor)
    member = _member(account, user_id)
    role = _clean_role(role)
    if member.role == role:
        return member
    if member.role == Role.OWNER and not _other_owners(account, member):
        raise ApplicationError(
            _("An account needs an owner: transfer the ownership to a colleague first."),
            field="role",
        )
    old = member.role
    member.role = role
    member.save(update_fields=["role"])
    account_event_record(
        account=account,
        actor=actor,
        action=AccountEventAction.ROLE_CHANGED,
        subject=member.email,
        details={"from": old, "to": role},
        via=via,
    )
    return member


@transaction.atomic
def member_remove(*, account: Account, user_id: int, actor: User, via: object = None) -> User:
    """Take a member off the team: they can no longer log in, their API tokens are revoked and
    their sessions end; what they made stays the account's. Not the last owner, not oneself
    (transfer the ownership, or ask another owner)."""
    account = _locked_account(account)
    _ensure_owner(account, actor)
    member = _member(account, user_id)
    if member.pk == actor.pk:
        raise ApplicationError(
            _("You cannot remove yourself: transfer the ownership first, then ask the new owner.")
        )
    if member.role == Role.OWNER and not _other_owners(account, member):
        raise ApplicationError(_("An account needs an owner."))
    ApiToken.objects.filter(user=member, revoked_at__isnull=True).update(revoked_at=timezone.now())
    member.account = None
    member.is_active = False
    # A new unusable password also invalidates every session of theirs (the session hash).
    member.set_unusable_password()
    member.save(update_fields=["account", "is_active", "password"])
    account_event_record(
        account=account,
        actor=actor,
        action=AccountEventAction.REMOVED,
        subject=member.email,
        details={"role": member.role},
        via=via,
    )
    return member


@transaction.atomic
def ownership_transfer(*, account: Account, user_id: int, actor: User, via: object = None) -> User:
    """Make a colleague the owner; the one transferring becomes an editor. Idempotent for a
    member who is already an owner."""
    account = _locked_account(account)
    _ensure_owner(account, actor)
    member = _member(account, user_id)
    if member.pk == actor.pk:
        raise ApplicationError(_("Choose a colleague to transfer the ownership to."))
    if member.role == Role.OWNER:
        return member
    old = member.role
    member.role = Role.OWNER
    member.save(update_fields=["role"])
    User.objects.filter(pk=actor.pk).update(role=Role.EDITOR)
    actor.role = Role.EDITOR
    account_event_record(
        account=account,
        actor=actor,
        action=AccountEventAction.OWNERSHIP_TRANSFERRED,
        subject=member.email,
        details={"from": old, "previous_owner_now": Role.EDITOR},
        via=via,
    )
    return member
