"""Browser pages for the team: members and roles, invitations, the ownership, the change log,
and the invited person's page that accepts an invitation. Only an owner's POSTs get here
(accounts.roles, through account_required); the services check again."""

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import services, team
from accounts.forms import InvitationForm, JoinForm, MemberRoleForm, TransferForm
from accounts.http import SenderRequest
from accounts.models import AccountEventAction, Role
from accounts.views import account_required
from config.browser_errors import not_found_page, show_errors
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
        with show_errors(form=form):
            invitation = team.invitation_create(
                account=request.user.account, invited_by=request.user, **form.cleaned_data
            )
            messages.success(
                request,
                _("We e-mailed an invitation to %(email)s.") % {"email": invitation.email},
            )
            return redirect("team")
    return _team_page(request, invite_form=form, status=400)


@account_required
@require_POST
def team_invitation_revoke(request: SenderRequest, invitation_id: int) -> HttpResponse:
    invitation = team.invitation_revoke(
        account=request.user.account, invitation_id=invitation_id, actor=request.user
    )
    messages.success(
        request, _("The invitation of %(email)s is withdrawn.") % {"email": invitation.email}
    )
    return redirect("team")


@account_required
@require_POST
def team_member_role(request: SenderRequest, user_id: int) -> HttpResponse:
    form = MemberRoleForm(request.POST)
    with show_errors(request):
        # An invalid role is the service's to refuse, after it found the member (or a 404).
        member = team.member_role_change(
            account=request.user.account,
            user_id=user_id,
            role=form.cleaned_data["role"] if form.is_valid() else "",
            actor=request.user,
        )
        messages.success(
            request,
            _("%(email)s is now %(role)s.")
            % {"email": member.email, "role": Role(member.role).label.lower()},
        )
    return redirect("team")


@account_required
@require_POST
def team_member_remove(request: SenderRequest, user_id: int) -> HttpResponse:
    with show_errors(request):
        member = team.member_remove(
            account=request.user.account, user_id=user_id, actor=request.user
        )
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
        with show_errors(form=form):
            member = team.ownership_transfer(
                account=request.user.account,
                user_id=form.cleaned_data["user_id"],
                actor=request.user,
            )
            messages.success(
                request,
                _("%(email)s is the owner now; you are an editor.") % {"email": member.email},
            )
            return redirect("team")
    return _team_page(request, transfer_form=form, status=400)


@not_found_page("accounts/team_join_failed.html")
def team_join(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation's link (public: the signed token is the key): choose a password, accept
    the terms, join the team."""
    invitation = team.invitation_for_token(token)
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
        with show_errors(form=form):
            user = team.invitation_accept(
                token=token,
                password=data["password"],
                first_name=data["first_name"],
                last_name=data["last_name"],
            )
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
