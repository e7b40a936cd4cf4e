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
]
