from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView

from config.health import healthz
from config.i18n import choose_language
from config.views import ApiDocsView

api_v1: list[URLPattern | URLResolver] = [
    path("", include("accounts.api.urls")),
    path("", include("lists.api.urls")),
    path("", include("campaigns.api.urls")),
    path("", include("moderation.api.urls")),
    path("", include("complaints.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Our own page from the schema (config.api_docs): Swagger UI and Redoc failed axe (nested
    # buttons, grey text below contrast) and the policy (Redoc's logo from a CDN).
    path("docs/", ApiDocsView.as_view(), name="api-docs"),
]

urlpatterns = [
    path("healthz/", healthz, name="healthz"),
    path("language/", choose_language, name="choose_language"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("", include("accounts.urls")),
    path("", include("lists.urls")),
    path("", include("campaigns.urls")),
    path("", include("moderation.urls")),
    path("", include("campaigns.public_urls")),
    path("", include("complaints.urls")),
    path("", include("complaints.account_urls")),
    path("webhooks/", include("complaints.webhook_urls")),
]

if settings.DEBUG:
    urlpatterns.append(path("dev/outbox/", include("outbox.urls")))

handler400 = "config.views.bad_request"
handler404 = "config.views.not_found"
