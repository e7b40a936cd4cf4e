"""Hostile input: what the security tests share."""

import pytest
from hypothesis import HealthCheck, settings

# The real-browser fixtures (Chromium, the live server with its mail sink) of tests/browser.
from tests.browser.conftest import chromium, page, site  # noqa: F401

# Modest example counts keep the suite fast; no example database is written into the tree.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# For examples that each go through a view and the database.
FUZZ_VIEWS = settings(FUZZ, max_examples=25)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    """Uploaded files go to a temporary folder, not var/media."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def world(db, settings, tmp_path):
    """Account A with one object of every kind and a team, account B, a staff user
    (tests/security/routes.py); shared by the access and role matrices."""
    from tests.security.routes import build_world

    # Configured as in production, so that the webhooks check credentials rather than answer
    # 503 "not configured".
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "WEBHOOK_SECRET": "matrix:webhook-secret",
        "MAILGUN_WEBHOOK_SIGNING_KEY": "matrix-signing-key",
    }
    return build_world(settings, tmp_path)
