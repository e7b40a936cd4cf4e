from django.urls import path

from accounts.api import team, views, webhooks

urlpatterns = [
    path("auth/token/", views.TokenObtainView.as_view(), name="api-token-obtain"),
    path("account/", views.AccountView.as_view(), name="api-account"),
    path(
        "account/accept-terms/",
        views.AcceptTermsView.as_view(),
        name="api-accept-terms",
    ),
    path("team/members/", team.TeamMemberListView.as_view(), name="api-team-members"),
    path(
        "team/members/<int:user_id>/", team.TeamMemberDetailView.as_view(), name="api-team-member"
    ),
    path("team/invitations/", team.TeamInvitationListView.as_view(), name="api-team-invitations"),
    path(
        "team/invitations/<int:invitation_id>/",
        team.TeamInvitationDetailView.as_view(),
        name="api-team-invitation",
    ),
    path("team/transfer/", team.TeamTransferView.as_view(), name="api-team-transfer"),
    path("team/events/", team.TeamEventListView.as_view(), name="api-team-events"),
    path("tokens/", views.ApiTokenListView.as_view(), name="api-tokens"),
    path("tokens/<int:token_id>/", views.ApiTokenDetailView.as_view(), name="api-token"),
    path("sender-domains/", views.SenderDomainListView.as_view(), name="api-sender-domains"),
    path(
        "sender-domains/<int:domain_id>/",
        views.SenderDomainDetailView.as_view(),
        name="api-sender-domain",
    ),
    path(
        "sender-domains/<int:domain_id>/verify/",
        views.SenderDomainVerifyView.as_view(),
        name="api-sender-domain-verify",
    ),
    path("webhooks/", webhooks.WebhookListView.as_view(), name="api-webhooks"),
    path("webhooks/<int:webhook_id>/", webhooks.WebhookDetailView.as_view(), name="api-webhook"),
    path(
        "webhooks/<int:webhook_id>/test/",
        webhooks.WebhookTestView.as_view(),
        name="api-webhook-test",
    ),
    path(
        "webhooks/<int:webhook_id>/deliveries/",
        webhooks.WebhookDeliveryListView.as_view(),
        name="api-webhook-deliveries",
    ),
]
