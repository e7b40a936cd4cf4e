"""ESP tracking webhooks (django-anymail), under /webhooks/."""

urlpatterns: list = []
