from django.urls import path

from campaigns.api import segments, templates, views, welcome_views

urlpatterns = [
    path("campaigns/", views.CampaignListView.as_view(), name="api-campaigns"),
    path("campaigns/<int:campaign_id>/", views.CampaignDetailView.as_view(), name="api-campaign"),
    path(
        "campaigns/<int:campaign_id>/preview/",
        views.CampaignPreviewView.as_view(),
        name="api-campaign-preview",
    ),
    path(
        "campaigns/<int:campaign_id>/test/",
        views.CampaignTestView.as_view(),
        name="api-campaign-test",
    ),
    path(
        "campaigns/<int:campaign_id>/submit/",
        views.CampaignSubmitView.as_view(),
        name="api-campaign-submit",
    ),
    path(
        "campaigns/<int:campaign_id>/schedule/",
        views.CampaignScheduleView.as_view(),
        name="api-campaign-schedule",
    ),
    path(
        "campaigns/<int:campaign_id>/cancel/",
        views.CampaignCancelView.as_view(),
        name="api-campaign-cancel",
    ),
    path(
        "campaigns/<int:campaign_id>/stats/",
        views.CampaignStatsView.as_view(),
        name="api-campaign-stats",
    ),
    path(
        "campaigns/<int:campaign_id>/duplicate/",
        templates.CampaignDuplicateView.as_view(),
        name="api-campaign-duplicate",
    ),
    path(
        "campaigns/<int:campaign_id>/save-as-template/",
        templates.CampaignSaveAsTemplateView.as_view(),
        name="api-campaign-save-as-template",
    ),
    path("templates/", templates.TemplateListView.as_view(), name="api-templates"),
    path("templates/starters/", templates.StarterListView.as_view(), name="api-template-starters"),
    path(
        "templates/<int:template_id>/",
        templates.TemplateDetailView.as_view(),
        name="api-template",
    ),
    path(
        "campaigns/<int:campaign_id>/audience/",
        segments.CampaignAudienceView.as_view(),
        name="api-campaign-audience",
    ),
    path("segments/", segments.SegmentListView.as_view(), name="api-segments"),
    path("segments/<int:segment_id>/", segments.SegmentDetailView.as_view(), name="api-segment"),
    path(
        "segments/<int:segment_id>/count/",
        segments.SegmentCountView.as_view(),
        name="api-segment-count",
    ),
    path(
        "segments/<int:segment_id>/export/",
        segments.SegmentExportView.as_view(),
        name="api-segment-export",
    ),
    path(
        "lists/<int:list_id>/welcome/",
        welcome_views.WelcomeView.as_view(),
        name="api-list-welcome",
    ),
    path(
        "lists/<int:list_id>/welcome/submit/",
        welcome_views.WelcomeSubmitView.as_view(),
        name="api-list-welcome-submit",
    ),
]
