"""The account's complaints and abuse reports (GET /api/v1/complaints/)."""

from django.urls import path

from complaints.api import views

urlpatterns = [
    path("complaints/", views.ComplaintListView.as_view(), name="api-complaints"),
]
