"""Tenant isolation: no API route with an object id in its path lets one account reach another's.

The routes are read from Django's URL resolver, so an endpoint added later is walked here without
anyone touching this file, as long as each of its path parameters has a factory in `FACTORIES`
(a new parameter name fails `test_every_path_parameter_has_a_factory`, loudly, until it has one).

For every route and every method its view has, account B calls it with its read-write token on
account A's objects and must get a 404: never a 403 that would confirm the object exists, never a
200, never a 500. Where a route has several ids, each of A's ids is also slipped in among B's own
(B's list with A's subscriber...). Afterwards A still reads every object: B changed nothing.
Moderation routes are for staff: any non-staff user gets a 403 whether the id exists or not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import api_token_create
from tests.factories import SenderDomainFactory, UserFactory

API_PREFIX = "api/v1/"
STAFF_PREFIX = "api/v1/moderation/"
METHODS = ("get", "post", "put", "patch", "delete")
PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
MISSING_ID = 2_000_000_000


@dataclass
class Tenant:
    """One account's user and, made on first use, one object per path parameter."""

    user: User
    ids: dict[str, int] = field(default_factory=dict)

    @property
    def account(self):
        return self.user.account

    def id_for(self, parameter: str) -> int:
        if parameter not in self.ids:
            if parameter not in FACTORIES:
                pytest.fail(_unknown_parameter_message([parameter]))
            self.ids[parameter] = FACTORIES[parameter](self)
        return self.ids[parameter]

    def client(self) -> APIClient:
        _, key = api_token_create(user=self.user, name="tenant isolation")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client


def _list(tenant: Tenant) -> int:
    from campaigns.welcome import welcome_save
    from tests.lists.factories import MailingListFactory

    list_id = MailingListFactory(account=tenant.account).pk
    # With a welcome message, so that /lists/{id}/welcome/ has something to read.
    welcome_save(
        account=tenant.account,
        list_id=list_id,
        actor=None,
        subject="Welcome",
        from_name="Tenant",
        from_email="news@tenant.example",
        html_body="<p>Welcome!</p>",
    )
    return list_id


def _subscriber(tenant: Tenant) -> int:
    from lists.models import MailingList
    from tests.lists.factories import SubscriberFactory

    mailing_list = MailingList.objects.get(pk=tenant.id_for("list_id"))
    return SubscriberFactory(mailing_list=mailing_list).pk


def _import(tenant: Tenant) -> int:
    from lists.models import ImportJob

    return ImportJob.objects.create(
        account=tenant.account,
        mailing_list_id=tenant.id_for("list_id"),
        created_by=tenant.user,
        original_filename="people.csv",
        file_format="csv",
        consent_source="paper_form",
        column_map={"email": 0},
    ).pk


def _campaign(tenant: Tenant) -> int:
    from lists.models import MailingList
    from tests.campaigns.factories import CampaignFactory

    return CampaignFactory(
        account=tenant.account, lists=[MailingList.objects.get(pk=tenant.id_for("list_id"))]
    ).pk


def _sender_domain(tenant: Tenant) -> int:
    return SenderDomainFactory(account=tenant.account).pk


def _token(tenant: Tenant) -> int:
    token, _ = api_token_create(user=tenant.user, name="spare")
    return token.pk


def _webhook(tenant: Tenant) -> int:
    from accounts.models import WebhookEndpoint

    return WebhookEndpoint.objects.create(
        account=tenant.account,
        url="https://hooks.example.com/consentmail",
        events=["subscriber.subscribed"],
        secret="whsec-tenant-isolation",
    ).pk


def _account(tenant: Tenant) -> int:
    return tenant.account.pk


def _abuse_report(tenant: Tenant) -> int:
    from complaints.models import AbuseReport

    return AbuseReport.objects.create(
        reporter_email="kim@example.net", comment="Never signed up.", account=tenant.account
    ).pk


# Path parameter name -> makes an object of the tenant's and returns its id. A route whose ids
# depend on each other (a subscriber of the list in the path) asks the tenant for the other id.
def _member(tenant: Tenant) -> int:
    return UserFactory(account=tenant.account, role="editor").pk


def _invitation(tenant: Tenant) -> int:
    from accounts.team import invitation_create

    return invitation_create(
        account=tenant.account,
        invited_by=tenant.user,
        email=f"new{tenant.user.pk}@example.org",
        role="viewer",
    ).pk


def _template(tenant: Tenant) -> int:
    from campaigns.models import EmailTemplate

    return EmailTemplate.objects.create(
        account=tenant.account, name="Tenant template", html_body="<p>Template</p>"
    ).pk


def _export(tenant: Tenant) -> int:
    from django.core.files.base import ContentFile

    from lists.models import ExportJob

    # Done, with its file: the owner's download answers 200.
    job = ExportJob.objects.create(
        account=tenant.account,
        requested_by=tenant.user,
        source="list",
        object_id=tenant.id_for("list_id"),
        label="Isolation",
        file_format="csv",
        filename="isolation.csv",
        status="done",
    )
    job.file.save("isolation.csv", ContentFile(b"email\r\n"))
    return job.pk


def _segment(tenant: Tenant) -> int:
    from campaigns.segment_services import segment_create

    return segment_create(
        account=tenant.account, name="Isolation", lists=[tenant.id_for("list_id")]
    ).pk


def _tag(tenant: Tenant) -> int:
    from lists.models import Tag
    from lists.services.tags import subscribers_tags_add

    subscribers_tags_add(
        account=tenant.account, subscriber_ids=[tenant.id_for("subscriber_id")], names=["iso"]
    )
    return Tag.objects.get(account=tenant.account, name="iso").pk


FACTORIES: dict[str, Callable[[Tenant], int]] = {
    "list_id": _list,
    "subscriber_id": _subscriber,
    "import_id": _import,
    "export_id": _export,
    "campaign_id": _campaign,
    "domain_id": _sender_domain,
    "token_id": _token,
    "webhook_id": _webhook,
    "account_id": _account,
    "report_id": _abuse_report,
    "user_id": _member,
    "invitation_id": _invitation,
    "template_id": _template,
    "segment_id": _segment,
    "tag_id": _tag,
}


@dataclass(frozen=True)
class Route:
    path: str  # "api/v1/lists/<int:list_id>/", as Django's resolver spells it
    methods: tuple[str, ...]

    @property
    def parameters(self) -> list[str]:
        return [m["name"] for m in PARAMETER.finditer(self.path)]

    def url(self, ids: dict[str, int]) -> str:
        return "/" + PARAMETER.sub(lambda m: str(ids[m["name"]]), self.path)

    def __str__(self) -> str:
        return self.path


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        path = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, path)
        elif isinstance(pattern, URLPattern):
            yield path, pattern.callback


def api_routes_with_ids() -> list[Route]:
    routes = []
    for path, callback in _walk(get_resolver().url_patterns):
        if not path.startswith(API_PREFIX) or not PARAMETER.search(path):
            continue
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        assert view_class is not None, f"{path}: not a class-based view, cannot list its methods"
        methods = tuple(m for m in METHODS if hasattr(view_class, m))
        routes.append(Route(path=path, methods=methods))
    return routes


ROUTES = api_routes_with_ids()
TENANT_ROUTES = [r for r in ROUTES if not r.path.startswith(STAFF_PREFIX)]
STAFF_ROUTES = [r for r in ROUTES if r.path.startswith(STAFF_PREFIX)]


def _unknown_parameter_message(names) -> str:
    return (
        f"API path parameter(s) {sorted(names)} have no factory in "
        "tests/api/test_tenant_isolation.py FACTORIES: add one that makes an object of the "
        "tenant's and returns its id, so that the new endpoint is checked for tenant isolation."
    )


def _call(client: APIClient, method: str, url: str):
    if method in ("post", "put", "patch"):
        return getattr(client, method)(url, {}, format="json")
    return getattr(client, method)(url)


@pytest.fixture
def tenants(db):
    return Tenant(UserFactory()), Tenant(UserFactory())


def test_the_walk_finds_the_routes_it_must():
    paths = {str(r) for r in ROUTES}
    assert "api/v1/lists/<int:list_id>/subscribers/<int:subscriber_id>/" in paths
    assert "api/v1/campaigns/<int:campaign_id>/" in paths
    assert "api/v1/imports/<int:import_id>/errors.csv" in paths
    assert STAFF_ROUTES, "the moderation routes were not found"


def test_every_path_parameter_has_a_factory():
    unknown = {name for route in ROUTES for name in route.parameters} - set(FACTORIES)
    assert not unknown, _unknown_parameter_message(unknown)


@pytest.mark.parametrize("route", TENANT_ROUTES, ids=str)
def test_another_accounts_ids_are_a_404_on_every_method(route, tenants):
    owner, intruder = tenants
    theirs = {name: owner.id_for(name) for name in route.parameters}
    mine = {name: intruder.id_for(name) for name in route.parameters}
    # All of A's ids; then, where there are several, each of A's ids among B's own.
    attempts = [theirs]
    if len(route.parameters) > 1:
        attempts += [{**mine, name: theirs[name]} for name in route.parameters]
    intruder_client = intruder.client()

    answers = {
        (method, route.url(ids)): _call(intruder_client, method, route.url(ids)).status_code
        for ids in attempts
        for method in route.methods
    }

    assert answers and set(answers.values()) == {404}, (
        f"account B reached account A's objects through {route}: {answers}"
    )
    if "get" in route.methods:
        owner_answer = owner.client().get(route.url(theirs))
        assert owner_answer.status_code == 200, (
            f"{route}: the owner cannot read its own objects ({owner_answer.status_code}), "
            "so the 404s above prove nothing, or B changed something"
        )


@pytest.mark.parametrize("route", STAFF_ROUTES, ids=str)
def test_staff_routes_are_a_403_to_non_staff_whether_the_id_exists_or_not(route, tenants):
    owner, intruder = tenants
    existing = {name: owner.id_for(name) for name in route.parameters}
    missing = dict.fromkeys(route.parameters, MISSING_ID)
    intruder_client = intruder.client()

    answers = {
        (method, route.url(ids)): _call(intruder_client, method, route.url(ids)).status_code
        for ids in (existing, missing)
        for method in route.methods
    }

    assert answers and set(answers.values()) == {403}, (
        f"a non-staff user got something other than 403 from {route}: {answers}"
    )
