from django.urls import path

from campaigns.api import views, welcome_views

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
