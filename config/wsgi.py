"""WSGI entry point: the public hot paths (config.hot_paths) in front of Django."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_application = get_wsgi_application()

# After Django's set-up: the hot paths import models.
from django.urls import get_resolver  # noqa: E402

from config.hot_paths import HotPaths  # noqa: E402

application = HotPaths(django_application)

# The URLconf (every app's views) loads now, in each worker before it takes requests, not in
# the first request it happens to serve.
get_resolver().check()
