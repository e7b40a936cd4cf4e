"""Hostile input: what the security tests share."""

import copy
import shutil

import pytest
from django.db import transaction
from django.test import override_settings
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


def configure_webhooks(settings) -> None:
    """Configured as in production, so that the webhooks check credentials rather than answer
    503 "not configured"."""
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "WEBHOOK_SECRET": "matrix:webhook-secret",
        "MAILGUN_WEBHOOK_SIGNING_KEY": "matrix-signing-key",
    }


@pytest.fixture
def world(db, settings, tmp_path):
    """Account A with one object of every kind and a team, account B, a staff user
    (tests/security/routes.py), built for this test."""
    from tests.security.routes import build_world

    configure_webhooks(settings)
    return build_world(settings, tmp_path)


@pytest.fixture(scope="module")
def _module_world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The world built once for a module (per xdist worker), in a transaction left open around
    the module's tests and rolled back after it, as Django's TestCase.setUpTestData does: each
    test's own transaction is a savepoint inside it, so what a test changes is undone before
    the next. Building it took most of each matrix test's time. Only for modules whose tests
    all run in a transaction (`db`): a transactional test's flush would empty it, and a live
    server could not see it."""
    from tests.security.routes import build_world

    media = tmp_path_factory.mktemp("world") / "media"
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            with override_settings(MEDIA_ROOT=str(media)):
                world = build_world(_Settings(), media.parent)
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    try:
        yield world, media
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


class _Settings:
    """What build_world sets (MEDIA_ROOT) lands here; _module_world overrides it itself."""


@pytest.fixture
def shared_world(_module_world, db, settings, tmp_path):
    """The module's world (_module_world) for one test: a copy, so that a test changing an
    object in memory leaves it as built for the next, with the uploaded files in this test's
    MEDIA_ROOT as build_world puts them."""
    world, media = _module_world
    settings.MEDIA_ROOT = str(tmp_path / "media")
    shutil.copytree(media, tmp_path / "media", dirs_exist_ok=True)
    return copy.deepcopy(world)
