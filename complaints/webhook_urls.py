"""ESP tracking webhooks (django-anymail), under /webhooks/: bounces, complaints, unsubscribes,
deliveries, opens and clicks, each applied through complaints.esp."""

from django.urls import path

from complaints import webhook_views as views

urlpatterns = [
    path(
        "amazon_ses/tracking/",
        views.AmazonSESTrackingView.as_view(),
        name="amazon_ses_tracking_webhook",
    ),
    path("mailgun/tracking/", views.MailgunTrackingView.as_view(), name="mailgun_tracking_webhook"),
    path(
        "sendgrid/tracking/", views.SendGridTrackingView.as_view(), name="sendgrid_tracking_webhook"
    ),
    path(
        "postmark/tracking/", views.PostmarkTrackingView.as_view(), name="postmark_tracking_webhook"
    ),
]
