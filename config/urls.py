from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from config.health import healthz
from config.i18n import choose_language
from config.security import allows_api_docs

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("lists.api.urls")),
    path("", include("campaigns.api.urls")),
    path("", include("moderation.api.urls")),
    path("", include("complaints.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Redoc (templates/drf_spectacular/redoc.html: no inline script, no third-party fonts). It
    # replaced Swagger UI, whose operation rows nest buttons in buttons and whose grey text is
    # below contrast: axe found serious violations there that no stylesheet of ours can mend.
    path(
        "docs/",
        allows_api_docs(SpectacularRedocView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
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
