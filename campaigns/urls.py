"""Browser pages for senders: campaigns."""

from django.urls import path

from campaigns import consent_request_views, segment_views, template_views, views, welcome_views
from config.security import allows_mail_preview

# The editor and the campaign's page show the message in the preview frame, which needs a wider
# Content-Security-Policy (config/security.py).
urlpatterns = [
    path("lists/<int:list_id>/welcome/", welcome_views.list_welcome, name="list_welcome"),
    path("campaigns/", views.campaign_index, name="campaigns"),
    path("campaigns/new/", allows_mail_preview(views.campaign_create), name="campaign_create"),
    path("campaigns/preview/", views.campaign_preview_new, name="campaign_preview_new"),
    path(
        "campaigns/<int:campaign_id>/",
        allows_mail_preview(views.campaign_detail),
        name="campaign_detail",
    ),
    path(
        "campaigns/<int:campaign_id>/edit/",
        allows_mail_preview(views.campaign_edit),
        name="campaign_edit",
    ),
    path(
        "campaigns/<int:campaign_id>/progress/", views.campaign_progress, name="campaign_progress"
    ),
    path("campaigns/<int:campaign_id>/preview/", views.campaign_preview, name="campaign_preview"),
    path("campaigns/<int:campaign_id>/test/", views.campaign_test_send, name="campaign_test_send"),
    path("campaigns/<int:campaign_id>/submit/", views.campaign_submit, name="campaign_submit"),
    path(
        "campaigns/<int:campaign_id>/withdraw/", views.campaign_withdraw, name="campaign_withdraw"
    ),
    path(
        "campaigns/<int:campaign_id>/schedule/", views.campaign_schedule, name="campaign_schedule"
    ),
    path("campaigns/<int:campaign_id>/cancel/", views.campaign_cancel, name="campaign_cancel"),
    path("campaigns/<int:campaign_id>/delete/", views.campaign_delete, name="campaign_delete"),
    path(
        "lists/<int:list_id>/consent-request/",
        consent_request_views.consent_request_new,
        name="consent_request_new",
    ),
    path(
        "campaigns/consent-requests/<int:campaign_id>/",
        consent_request_views.consent_request_detail,
        name="consent_request_detail",
    ),
    path(
        "campaigns/<int:campaign_id>/duplicate/",
        template_views.campaign_duplicate,
        name="campaign_duplicate",
    ),
    path(
        "campaigns/<int:campaign_id>/save-as-template/",
        template_views.campaign_save_as_template,
        name="campaign_save_as_template",
    ),
    # The template library. Its editor and previews show mail HTML (see above).
    path("templates/", template_views.template_index, name="templates"),
    path(
        "templates/new/",
        allows_mail_preview(template_views.template_create),
        name="template_create",
    ),
    path(
        "templates/starters/<slug:starter_key>/",
        allows_mail_preview(template_views.starter_preview),
        name="starter_preview",
    ),
    path(
        "templates/<int:template_id>/",
        allows_mail_preview(template_views.template_preview),
        name="template_preview",
    ),
    path(
        "templates/<int:template_id>/edit/",
        allows_mail_preview(template_views.template_edit),
        name="template_edit",
    ),
    path(
        "templates/<int:template_id>/delete/",
        template_views.template_delete,
        name="template_delete",
    ),
    path("campaigns/segments/", segment_views.segment_index, name="segments"),
    path("campaigns/segments/new/", segment_views.segment_create, name="segment_create"),
    path(
        "campaigns/segments/<int:segment_id>/",
        segment_views.segment_edit,
        name="segment_edit",
    ),
    path(
        "campaigns/segments/<int:segment_id>/delete/",
        segment_views.segment_delete,
        name="segment_delete",
    ),
    path(
        "campaigns/segments/<int:segment_id>/export/",
        segment_views.segment_export,
        name="segment_export",
    ),
]
