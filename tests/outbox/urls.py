"""The project's routes plus the DEBUG-only outbox, which config.urls adds only when DEBUG is on."""

from django.urls import include, path

from config.urls import handler400, handler404  # noqa: F401
from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [*project_urlpatterns, path("dev/outbox/", include("outbox.urls"))]
