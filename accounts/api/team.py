"""Team API: members and their roles, invitations, the ownership, and the log of changes.

Every member reads; only an owner changes anything (accounts.roles: the routes are in
OWNER_WRITES). Another account's member or invitation is a 404.
"""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import team
from accounts.api.schema import error_responses
from accounts.api.views import ACCOUNT_PERMISSIONS
from accounts.models import AccountEvent, Invitation, Role, User
from config.api import PageNumberPagination, paginated_response

ROLES = [role.value for role in Role]


class MemberOutput(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=ROLES)

    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "role", "date_joined", "last_login"]


class MemberRoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLES)


class InvitationInput(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=ROLES)


class InvitationOutput(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=ROLES)
    invited_by = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "invited_by", "created_at", "expires_at"]

    def get_invited_by(self, invitation: Invitation) -> str:
        return invitation.invited_by.email if invitation.invited_by else ""


class TransferInput(serializers.Serializer):
    user_id = serializers.IntegerField(help_text="The colleague who becomes the owner.")


class AccountEventOutput(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label", help_text="Who did it (their address).")

    class Meta:
        model = AccountEvent
        fields = ["id", "at", "actor", "via", "action", "subject", "details"]


_MEMBER = {
    "id": 12,
    "email": "sam@acme.example.com",
    "first_name": "Sam",
    "last_name": "Lee",
    "role": "editor",
    "date_joined": "2026-11-02T09:00:00Z",
    "last_login": "2026-11-20T07:45:00Z",
}
_INVITATION = {
    "id": 4,
    "email": "alex@acme.example.com",
    "role": "viewer",
    "invited_by": "pat@acme.example.com",
    "created_at": "2026-12-01T10:00:00Z",
    "expires_at": "2026-12-08T10:00:00Z",
}


class TeamMemberListView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    pagination_class = PageNumberPagination

    @extend_schema(
        responses={200: MemberOutput(many=True), **error_responses(404)},
        examples=[OpenApiExample("A page of members", value=_MEMBER, response_only=True)],
        summary="The account's members and their roles",
    )
    def get(self, request):
        members = team.team_members(account=request.user.account)
        return paginated_response(request, self, members, MemberOutput)


class TeamMemberDetailView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        request=MemberRoleInput,
        responses={200: MemberOutput, **error_responses(400, 404)},
        examples=[OpenApiExample("Make a viewer", value={"role": "viewer"}, request_only=True)],
        summary="Change a member's role (owner only)",
        description="The last owner keeps the role: transfer the ownership instead. The "
        "member's API tokens follow the new role at once.",
    )
    def patch(self, request, user_id: int):
        # Another account's member is a 404 before the body is read (never a 400 that says
        # the id exists).
        team.member_for(account=request.user.account, user_id=user_id)
        data = MemberRoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = team.member_role_change(
            account=request.user.account,
            user_id=user_id,
            role=data.validated_data["role"],
            actor=request.user,
            via=request.auth,
        )
        return Response(MemberOutput(member).data)

    @extend_schema(
        responses={204: None, **error_responses(400, 404)},
        summary="Remove a member (owner only)",
        description="They can no longer log in and their API tokens are revoked; what they "
        "made stays the account's. Not yourself, not the last owner.",
    )
    def delete(self, request, user_id: int):
        team.member_remove(
            account=request.user.account, user_id=user_id, actor=request.user, via=request.auth
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamInvitationListView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    pagination_class = PageNumberPagination

    @extend_schema(
        responses={200: InvitationOutput(many=True), **error_responses(404)},
        examples=[OpenApiExample("A page of invitations", value=_INVITATION, response_only=True)],
        summary="Invitations waiting to be accepted",
    )
    def get(self, request):
        invitations = team.pending_invitations(account=request.user.account)
        return paginated_response(request, self, invitations, InvitationOutput)

    @extend_schema(
        request=InvitationInput,
        responses={201: InvitationOutput, **error_responses(400)},
        examples=[
            OpenApiExample(
                "Invite",
                value={"email": "alex@acme.example.com", "role": "viewer"},
                request_only=True,
            ),
            OpenApiExample("Invited", value=_INVITATION, response_only=True, status_codes=["201"]),
        ],
        summary="Invite a colleague by e-mail (owner only)",
        description="E-mails a signed link that works once, for INVITATION_DAYS days. Inviting "
        "the same address again withdraws the earlier link. An address that already belongs "
        "to a member or to another account is a 400.",
    )
    def post(self, request):
        data = InvitationInput(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = team.invitation_create(
            account=request.user.account,
            invited_by=request.user,
            via=request.auth,
            **data.validated_data,
        )
        return Response(InvitationOutput(invitation).data, status=status.HTTP_201_CREATED)


class TeamInvitationDetailView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        responses={204: None, **error_responses(404)},
        summary="Withdraw an invitation (owner only)",
    )
    def delete(self, request, invitation_id: int):
        team.invitation_revoke(
            account=request.user.account,
            invitation_id=invitation_id,
            actor=request.user,
            via=request.auth,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamTransferView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS

    @extend_schema(
        request=TransferInput,
        responses={200: MemberOutput, **error_responses(400, 404)},
        examples=[OpenApiExample("Transfer", value={"user_id": 12}, request_only=True)],
        summary="Transfer the ownership to a colleague (owner only)",
        description="The colleague becomes an owner and you an editor.",
    )
    def post(self, request):
        data = TransferInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = team.ownership_transfer(
            account=request.user.account,
            user_id=data.validated_data["user_id"],
            actor=request.user,
            via=request.auth,
        )
        return Response(MemberOutput(member).data)


class TeamEventListView(APIView):
    permission_classes = ACCOUNT_PERMISSIONS
    pagination_class = PageNumberPagination

    @extend_schema(
        responses={200: AccountEventOutput(many=True), **error_responses(404)},
        examples=[
            OpenApiExample(
                "A page of changes",
                value={
                    "id": 31,
                    "at": "2026-12-01T10:00:00Z",
                    "actor": "pat@acme.example.com",
                    "via": "",
                    "action": "role_changed",
                    "subject": "sam@acme.example.com",
                    "details": {"from": "editor", "to": "viewer"},
                },
                response_only=True,
            )
        ],
        summary="Who changed what in the team and the company profile, newest first",
    )
    def get(self, request):
        events = team.account_events(account=request.user.account)
        return paginated_response(request, self, events, AccountEventOutput)
