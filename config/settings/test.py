"""Tests: DATABASE_URL and CELERY_BROKER_URL point at PostgreSQL and Redis in CI, SQLite locally."""

from config.settings.base import *  # noqa: F401

SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A worker process started by the integration tests is pointed at a real SMTP sink via the env.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
OUTBOX_DIR = str(VAR_DIR / "test-outbox")
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The same backend, emptying the tables after a transactional test by DELETE instead of a
    # slow TRUNCATE (tests/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "tests.postgresql"
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory, so that a real worker process can share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
WHITENOISE_AUTOREFRESH = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True  # the tests run their webhook receivers on 127.0.0.1
