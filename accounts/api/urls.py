from django.urls import path

from accounts.api import views, webhooks

urlpatterns = [
    path("auth/token/", views.TokenObtainView.as_view(), name="api-token-obtain"),
    path("account/", views.AccountView.as_view(), name="api-account"),
    path(
        "account/accept-terms/",
        views.AcceptTermsView.as_view(),
        name="api-accept-terms",
    ),
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
