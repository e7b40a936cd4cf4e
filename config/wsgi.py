"""WSGI entry point: the public hot paths (config.hot_paths) in front of Django."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from config.hot_paths import HotPaths  # noqa: E402  (settings module chosen first)

application = HotPaths(get_wsgi_application())
