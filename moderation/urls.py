"""Browser pages for moderators (staff only)."""

from django.urls import path

from moderation import views

urlpatterns = [
    path("moderation/", views.queue, name="moderation_queue"),
    path("moderation/campaigns/<int:campaign_id>/", views.review, name="moderation_review"),
    path(
        "moderation/campaigns/<int:campaign_id>/approve/",
        views.decide,
        {"decision": "approve"},
        name="moderation_approve",
    ),
    path(
        "moderation/campaigns/<int:campaign_id>/reject/",
        views.decide,
        {"decision": "reject"},
        name="moderation_reject",
    ),
    path(
        "moderation/campaigns/<int:campaign_id>/release/",
        views.decide,
        {"decision": "release"},
        name="moderation_release",
    ),
    path(
        "moderation/campaigns/<int:campaign_id>/decline/",
        views.decide,
        {"decision": "decline"},
        name="moderation_decline",
    ),
    path("moderation/audit/", views.audit, name="moderation_audit"),
]
