import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from accounts.services import api_token_create
from outbox.sink import StoredMessage, read_messages, start_sink
from tests.dns_server import free_port
from tests.factories import UserFactory
from tests.ordering import heaviest_modules_first, load_weights

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The heaviest modules first (tests/ordering.py), so that the run does not end on one long
    test. Runs after pytest-django's own reordering; every xdist worker computes the same order."""
    order = heaviest_modules_first([item.nodeid for item in items], load_weights())
    items[:] = [items[index] for index in order]


def require_service(name: str, reason: str) -> None:
    """Skip locally when a service is missing, but fail loudly in CI, where it must be there."""
    if IN_CI:
        pytest.fail(f"{name} is required in CI: {reason}")
    pytest.skip(f"{name} unavailable: {reason}")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Each worker's test database is copied from a migrated template (tests/template_db.py)
    instead of migrated from empty."""
    from django.conf import settings

    from tests.template_db import use_migrated_template

    use_migrated_template(settings.DATABASES["default"])


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def token_client(user):
    """An API client authenticated with a read-write token of `user`."""
    _, key = api_token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.user = user
    return client


@pytest.fixture(autouse=True)
def _english_unless_asked():
    """Each test starts in English: a request in Russian activates Russian for the thread, and
    a service called after it would otherwise answer in the language of an earlier test."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def read_only_token_client(user):
    """An API client authenticated with a read-only token of `user`."""
    _, key = api_token_create(user=user, name="tests (read-only)", read_only=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.user = user
    return client


@pytest.fixture
def dns_server(settings, tmp_path):
    """A real DNS server on 127.0.0.1 (dnsmasq; a dnslib stand-in locally without it) that the
    app's resolver asks: `.set_txt(name, [values])` publishes records, `.address` is ip:port."""
    from tests.dns_server import DnsServerUnavailable, start_dns_server

    try:
        server = start_dns_server(tmp_path / "dns", require_dnsmasq=IN_CI)
    except DnsServerUnavailable as exc:
        require_service("dnsmasq", str(exc))
    settings.DNS_NAMESERVERS = [server.address]
    settings.DNS_TIMEOUT = 2.0
    try:
        yield server
    finally:
        server.stop()


@dataclass
class MailSink:
    directory: Path
    port: int

    def messages(self) -> list[StoredMessage]:
        return read_messages(self.directory)

    def wait_for(self, *, to: str, subject: str, timeout: float = 10.0) -> StoredMessage:
        """The one message to `to` whose subject contains `subject`, polling until it arrives."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.messages() if to in m.to and subject in m.subject]
            if found:
                assert len(found) == 1, f"expected one message, got {[m.subject for m in found]}"
                return found[0]
            if time.monotonic() > deadline:
                seen = [(m.to, m.subject) for m in self.messages()]
                raise AssertionError(f"no mail to {to} about {subject!r}; the sink holds {seen}")
            time.sleep(0.05)


@pytest.fixture
def mail_sink(tmp_path):
    """The project's aiosmtpd sink on a free port, storing each message in a temporary directory."""
    directory = tmp_path / "mail"
    controller = start_sink(directory, host="127.0.0.1", port=free_port())
    try:
        yield MailSink(directory=directory, port=controller.port)
    finally:
        controller.stop()
