from django.urls import path

from moderation.api import views

urlpatterns = [
    path("moderation/campaigns/", views.ModerationQueueView.as_view(), name="api-moderation-queue"),
    path(
        "moderation/campaigns/<int:campaign_id>/approve/",
        views.CampaignApproveView.as_view(),
        name="api-moderation-approve",
    ),
    path(
        "moderation/campaigns/<int:campaign_id>/reject/",
        views.CampaignRejectView.as_view(),
        name="api-moderation-reject",
    ),
    path(
        "moderation/campaigns/<int:campaign_id>/release/",
        views.CampaignReleaseView.as_view(),
        name="api-moderation-release",
    ),
    path(
        "moderation/campaigns/<int:campaign_id>/decline/",
        views.CampaignDeclineView.as_view(),
        name="api-moderation-decline",
    ),
    path("moderation/audit/", views.AuditLogView.as_view(), name="api-moderation-audit"),
    path(
        "moderation/accounts/",
        views.ModerationAccountsView.as_view(),
        name="api-moderation-accounts",
    ),
    path(
        "moderation/accounts/<int:account_id>/",
        views.ModerationAccountView.as_view(),
        name="api-moderation-account",
    ),
    path(
        "moderation/accounts/<int:account_id>/warn/",
        views.AccountWarnView.as_view(),
        name="api-moderation-account-warn",
    ),
    path(
        "moderation/accounts/<int:account_id>/freeze/",
        views.AccountFreezeView.as_view(),
        name="api-moderation-account-freeze",
    ),
    path(
        "moderation/accounts/<int:account_id>/unfreeze/",
        views.AccountUnfreezeView.as_view(),
        name="api-moderation-account-unfreeze",
    ),
    path(
        "moderation/abuse-reports/",
        views.AbuseReportsView.as_view(),
        name="api-moderation-abuse-reports",
    ),
    path(
        "moderation/abuse-reports/<int:report_id>/resolve/",
        views.AbuseReportResolveView.as_view(),
        name="api-moderation-abuse-resolve",
    ),
    path("account/appeal/", views.AccountAppealView.as_view(), name="api-account-appeal"),
]
