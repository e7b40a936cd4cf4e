"""Property-based fuzzing of the whole REST API against its own OpenAPI schema (schemathesis).

The schema is read from `/api/v1/schema/` of the Django WSGI app itself, and every operation in it
is called in-process (no network) with a bounded, derandomized set of generated requests,
authenticated with a read-write token of an account that owns a list, a subscriber, an import, a
sender domain and campaigns (built once per module: `_module_world`). Path ids are swapped for
those real objects' ids in most examples, so the handlers' happy paths run as well as their 404s.
Each example runs inside a savepoint that is rolled back afterwards, so a DELETE in one example
leaves the objects in place for the next. Every response must be no 500 and conform to the
schema: a documented status code, content type, headers and body.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import ApiToken
from accounts.services import api_token_create
from accounts.team import invitation_create
from campaigns import sending
from campaigns.segment_services import segment_create
from complaints.models import AbuseReport
from lists.models import ImportJob, Tag
from lists.services.tags import subscribers_tags_add
from tests.campaigns.factories import CampaignFactory
from tests.conftest import IN_CI, require_service
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.slow]

MAX_EXAMPLES = 15
# What the contract promises: never a 500, and every answer documented (status code, content type,
# headers, body). Left out: `positive_data_acceptance` (a schema-valid body may still break a
# business rule, e.g. a From address on an unverified domain is a documented 400) and
# `negative_data_rejection` (DRF accepts some values a strict reading of the schema refuses:
# "0" for a boolean in a form, an unparseable `page_size` falls back to the default).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# As JSON: the same schema as the default YAML (compared: equal, same operations), without
# rendering and parsing YAML, 0.4 s of CPU in every process that collects this module.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


@dataclass
class World:
    """The objects a path id may point at, and the tokens to call with."""

    sender_auth: str
    staff_auth: str
    ids: dict[str, int]
    token_ids: list[int]  # the two the run calls with


@pytest.fixture
def _keep_the_test_connection():
    """The WSGI handler closes the database connection after each request, which would end the
    test's transaction; Django's own test client disconnects the same handlers."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def _module_dns_server(tmp_path_factory):
    """One DNS server for the module (tests/conftest.py's `dns_server`, module-scoped): the world
    publishes no records and no example adds any, so every operation sees the same empty zone."""
    from tests.dns_server import DnsServerUnavailable, start_dns_server

    try:
        server = start_dns_server(tmp_path_factory.mktemp("dns"), require_dnsmasq=IN_CI)
    except DnsServerUnavailable as exc:
        require_service("dnsmasq", str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def _module_world(django_db_setup, django_db_blocker, _module_dns_server) -> Iterator[World]:
    """The world built once per module (per xdist worker), not once per operation, in a
    transaction left open around the module's tests and rolled back after it, as
    tests/security/conftest.py's `_module_world` does: each operation's test runs in a savepoint
    inside it and each example in a savepoint inside that, so what an example changes is undone
    before the next and every operation starts from the world as built. Building it (factories,
    a DNS server, tokens, a submitted campaign) took most of each operation's time."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            with override_settings(**_dns_settings(_module_dns_server)):
                world = _build_world()
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    # The examples make and drop many objects, and each full collection of the garbage collector
    # walked every object already there (Django, the schema and its cases, the world): ~600,000.
    gc.freeze()
    try:
        yield world
    finally:
        gc.unfreeze()
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _dns_settings(server) -> dict:
    # Sender-domain checks ask the module's DNS server on 127.0.0.1, never the network.
    return {"DNS_NAMESERVERS": [server.address], "DNS_TIMEOUT": 2.0}


@pytest.fixture
def world(_module_world, db, settings, _module_dns_server, _keep_the_test_connection) -> World:
    """The module's world for one operation, with this test's settings asking its DNS server.

    The run's tokens are marked as used just now: a token's use is written at most once a minute,
    but each example's savepoint rolled that write back, so every request of the run wrote it again
    (a second statement per request, and a new dead version of the same token row each time, which
    every later token lookup in the module's open transaction stepped over). An operation's
    examples take seconds, so within one the token is read as between two writes in production;
    tests/accounts/test_api_tokens.py covers the write."""
    for name, value in _dns_settings(_module_dns_server).items():
        setattr(settings, name, value)
    ApiToken.objects.filter(pk__in=_module_world.token_ids).update(last_used_at=timezone.now())
    return _module_world


def _build_world() -> World:
    sender = UserFactory(email="fuzz@acme.example", account__company_name="Acme Ltd")
    account = sender.account
    domain = SenderDomainFactory(
        account=account, domain="news.acme.example", verified_at=timezone.now()
    )
    mailing_list = MailingListFactory(account=account, name="Monthly news")
    subscriber = SubscriberFactory(mailing_list=mailing_list, email="ann.lee@example.org")
    draft = CampaignFactory(
        account=account, lists=[mailing_list], from_email="news@news.acme.example"
    )
    submitted = CampaignFactory(
        account=account, lists=[mailing_list], from_email="news@news.acme.example"
    )
    sending.campaign_submit(account=account, campaign_id=submitted.pk, actor=None)
    job = ImportJob.objects.create(
        account=account,
        mailing_list=mailing_list,
        created_by=sender,
        original_filename="people.csv",
        file_format="csv",
        consent_source="web_form",
        column_map={"email": 0},
    )
    sender_token, sender_key = api_token_create(user=sender, name="fuzz")
    # A second token, for DELETE /tokens/{id}/ to revoke: never the one the run calls with.
    spare, _ = api_token_create(user=sender, name="spare")
    # Moderators are staff; this one has an account of its own only so that it can hold a token.
    staff = UserFactory(email="mo@consentmail.example", is_staff=True)
    staff_token, staff_key = api_token_create(user=staff, name="fuzz (staff)")
    report = AbuseReport.objects.create(
        reporter_email="kim@example.net", comment="Never signed up.", account=account
    )
    # A colleague to change or remove, and an invitation to withdraw (the team endpoints).
    colleague = UserFactory(email="sam@acme.example", account=account, role="editor")
    invitation = invitation_create(
        account=account, invited_by=sender, email="alex@acme.example", role="viewer"
    )
    # A segment and a tag (issue 22), for their endpoints' happy paths.
    segment = segment_create(account=account, name="Fuzz segment", lists=[mailing_list.pk])
    subscribers_tags_add(account=account, subscriber_ids=[subscriber.pk], names=["fuzz"])
    tag = Tag.objects.get(account=account, name="fuzz")
    return World(
        sender_auth=f"Token {sender_key}",
        staff_auth=f"Token {staff_key}",
        ids={
            "campaign_id": draft.pk,
            "list_id": mailing_list.pk,
            "subscriber_id": subscriber.pk,
            "import_id": job.pk,
            "domain_id": domain.pk,
            "token_id": spare.pk,
            "moderation_campaign_id": submitted.pk,
            "account_id": account.pk,
            "report_id": report.pk,
            "user_id": colleague.pk,
            "invitation_id": invitation.pk,
            "segment_id": segment.pk,
            "tag_id": tag.pk,
        },
        token_ids=[sender_token.pk, staff_token.pk],
    )


def _point_at_real_objects(case, world: World) -> None:
    """Swap the generated path ids for real ones, except when the generated id is a multiple of
    four (so a quarter of the examples, and the boundary values 0 and negatives, keep theirs)."""
    ids = dict(world.ids)
    if "/moderation/" in case.operation.path:
        ids["campaign_id"] = ids["moderation_campaign_id"]
    for name, value in (case.path_parameters or {}).items():
        if name in ids and isinstance(value, int) and value % 4 != 0:
            case.path_parameters[name] = ids[name]


def _caller_with_room(slots: int) -> Callable[..., Any]:
    """A function that calls its argument from a frame of `slots` local variables (8 bytes each).

    CPython (3.11+) keeps Python frames on a stack of 16 KB chunks and frees a chunk as soon as the
    calls return below its start, so calls that go back and forth across a chunk's end map and
    unmap 16 KB each time: an example's request did so ~300 times (strace of the 19 `lists`
    operations: 461,000 mmap/munmap pairs and 522,000 page faults; 5.8 s of system time).
    A frame too big for the room left in the current chunk gets a chunk of its own, of the next
    power of two, and the calls it makes use the rest of it."""
    names = " = ".join(f"_{index}" for index in range(slots))
    source = (
        "def call(function, /, *args, **kwargs):\n"
        f"    {names} = None\n"
        "    return function(*args, **kwargs)\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # noqa: S102 (our own source: a function with that many locals)
    return namespace["call"]


# 3,100 slots (24 KB) take a 64 KB chunk and leave 40 KB, two and a half chunks, for the request
# and the checks: the same 19 operations, 55,000 mmap/munmap pairs, 130,000 page faults, 4.1 s.
_call_with_room = _caller_with_room(3100)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, world):
    _point_at_real_objects(case, world)
    staff = "/moderation/" in case.operation.path
    headers = {"Authorization": world.staff_auth if staff else world.sender_auth}
    # The credentials throttle (10/min per address) would answer 429 after ten examples.
    cache.clear()
    savepoint = transaction.savepoint()
    try:
        _call_with_room(case.call_and_validate, headers=headers, checks=CHECKS)
    finally:
        transaction.savepoint_rollback(savepoint)
