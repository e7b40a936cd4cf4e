"""Public tracking links (no login; signed tokens)."""

from django.urls import path

from campaigns import public_views

urlpatterns = [
    path("c/<str:token>/", public_views.click, name="track_click"),
    path("o/<str:token>.gif", public_views.open_pixel, name="track_open"),
    path("k/<str:token>/", public_views.consent_yes, name="consent_request_yes"),
]
