"""The sender's pages about what recipients reported (unsubscribes, complaints, bounces)."""

from django.urls import path

from complaints import account_views

urlpatterns = [
    path("feedback/", account_views.feedback, name="feedback"),
]
