"""Browser pages for the team: members and roles, invitations, the ownership, the change log,
and the invited person's page that accepts an invitation. Only an owner's POSTs get here
(accounts.roles, through account_required); the services check again."""

from django.contrib import messages
from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import services, team
from accounts.forms import InvitationForm, JoinForm, MemberRoleForm, TransferForm
from accounts.http import SenderRequest
from accounts.models import AccountEventAction, Role
from accounts.views import account_required, form_error
from config.errors import ApplicationError, NotFound
from config.http import client_ip

EVENTS_SHOWN = 50


def _team_page(request: SenderRequest, *, invite_form=None, transfer_form=None, status=200):
    account = request.user.account
    members = list(team.team_members(account=account))
    colleagues = [m for m in members if m.pk != request.user.pk]
    return render(
        request,
        "accounts/team.html",
        {
            "account": account,
            "members": members,
            "invitations": team.pending_invitations(account=account),
            "events": team.account_events(account=account)[:EVENTS_SHOWN],
            "invite_form": invite_form or InvitationForm(),
            "transfer_form": transfer_form or TransferForm(members=colleagues),
            "role_choices": Role.choices,
            "is_owner": request.user.role == Role.OWNER,
            "action_labels": dict(AccountEventAction.choices),
            "role_labels": dict(Role.choices),
        },
        status=status,
    )


@account_required
def team_page(request: SenderRequest) -> HttpResponse:
    """Everyone on the team, the open invitations and who changed what; the owner's forms."""
    return _team_page(request)


@account_required
@require_POST
def team_invite(request: SenderRequest) -> HttpResponse:
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation = team.invitation_create(
                account=request.user.account, invited_by=request.user, **form.cleaned_data
            )
        except ApplicationError as exc:
            form_error(form, exc)
        else:
            messages.success(
                request,
                _("We e-mailed an invitation to %(email)s.") % {"email": invitation.email},
            )
            return redirect("team")
    return _team_page(request, invite_form=form, status=400)


@account_required
@require_POST
def team_invitation_revoke(request: SenderRequest, invitation_id: int) -> HttpResponse:
    try:
        invitation = team.invitation_revoke(
            account=request.user.account, invitation_id=invitation_id, actor=request.user
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    messages.success(
        request, _("The invitation of %(email)s is withdrawn.") % {"email": invitation.email}
    )
    return redirect("team")


@account_required
@require_POST
def team_member_role(request: SenderRequest, user_id: int) -> HttpResponse:
    form = MemberRoleForm(request.POST)
    try:
        # An invalid role is the service's to refuse, after it found the member (or a 404).
        member = team.member_role_change(
            account=request.user.account,
            user_id=user_id,
            role=form.cleaned_data["role"] if form.is_valid() else "",
            actor=request.user,
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(email)s is now %(role)s.")
            % {"email": member.email, "role": Role(member.role).label.lower()},
        )
    return redirect("team")


@account_required
@require_POST
def team_member_remove(request: SenderRequest, user_id: int) -> HttpResponse:
    try:
        member = team.member_remove(
            account=request.user.account, user_id=user_id, actor=request.user
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(email)s left the team.") % {"email": member.email})
    return redirect("team")


@account_required
@require_POST
def team_transfer(request: SenderRequest) -> HttpResponse:
    colleagues = [
        m for m in team.team_members(account=request.user.account) if m.pk != request.user.pk
    ]
    form = TransferForm(request.POST, members=colleagues)
    if form.is_valid():
        try:
            member = team.ownership_transfer(
                account=request.user.account,
                user_id=form.cleaned_data["user_id"],
                actor=request.user,
            )
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except ApplicationError as exc:
            form_error(form, exc)
        else:
            messages.success(
                request,
                _("%(email)s is the owner now; you are an editor.") % {"email": member.email},
            )
            return redirect("team")
    return _team_page(request, transfer_form=form, status=400)


def team_join(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation's link (public: the signed token is the key): choose a password, accept
    the terms, join the team."""
    try:
        invitation = team.invitation_for_token(token)
    except NotFound as exc:
        return render(
            request, "accounts/team_join_failed.html", {"message": exc.message}, status=404
        )
    if request.user.is_authenticated:
        if request.user.email.lower() == invitation.email.lower():
            return redirect("dashboard")
        return render(
            request,
            "accounts/team_join_failed.html",
            {
                "message": _("This invitation is for %(email)s. Log out first to accept it.")
                % {"email": invitation.email}
            },
            status=403,
        )
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = team.invitation_accept(
                token=token,
                password=data["password"],
                first_name=data["first_name"],
                last_name=data["last_name"],
            )
        except NotFound as exc:
            return render(
                request, "accounts/team_join_failed.html", {"message": exc.message}, status=404
            )
        except ApplicationError as exc:
            form_error(form, exc)
        else:
            services.terms_accept(
                user=user, ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")
            )
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                _("Welcome to %(company)s's team.") % {"company": invitation.account.company_name},
            )
            return redirect("dashboard")
    return render(request, "accounts/team_join.html", {"form": form, "invitation": invitation})
