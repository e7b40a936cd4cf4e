"""What the security tests share: every URL pattern the resolver knows (walking every include),
a world with one object of every kind in account A, another account B, and a staff user, and the
values that fill each path parameter with A's objects.

A path parameter without a filler in FILLERS fails the tests that meet it, saying what to add.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests.factories import SenderDomainFactory, UserFactory

PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
API_PREFIX = "api/v1/"
API_STAFF_PREFIX = "api/v1/moderation/"
ADMIN_PREFIX = "admin/"


# --- the world the requests are made in ----------------------------------------------------------


@dataclass
class World:
    """Account A (the owner) with one object of every kind, account B, a sender who is not
    staff (A's owner), and a staff user with no account."""

    owner: object
    other: object
    staff: object
    objects: dict[str, object] = field(default_factory=dict)
    marker: str = ""  # a string that appears only in A's data
    editor: object = None  # A's editor and viewer (accounts.roles)
    viewer: object = None

    def client(self, user=None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client


def build_world(settings, tmp_path) -> World:
    """Account A's owner with one object of every kind, account B's user, and a staff user
    without an account (the database must be available)."""
    from accounts.models import Notification, WebhookEndpoint
    from accounts.services import api_token_create
    from accounts.team import invitation_create
    from campaigns.consent_requests import consent_request_create
    from campaigns.models import EmailTemplate
    from campaigns.welcome import welcome_save
    from complaints.models import AbuseReport
    from lists.models import ConsentRecord, ExportJob, ImportJob
    from moderation.models import Appeal
    from tests.campaigns.factories import CampaignFactory, submitted_campaign
    from tests.lists.factories import MailingListFactory, SubscriberFactory

    settings.MEDIA_ROOT = str(tmp_path / "media")
    marker = "Zanzibar-Owner-Marker"
    owner = UserFactory(email="owner@example.com", account__company_name=f"{marker} Ltd")
    other = UserFactory(email="other@example.com")
    staff = UserFactory(email="moderator@example.com", account=None, is_staff=True)
    account = owner.account

    mailing_list = MailingListFactory(account=account, name=f"{marker} list")
    subscriber = SubscriberFactory(mailing_list=mailing_list, email="reader@example.org")
    record = ConsentRecord(
        subscriber=subscriber,
        event="granted",
        source="paper_form",
        obtained_at=timezone.now(),
        purpose_text=mailing_list.purpose,
    )
    record.proof_file.save("proof.pdf", ContentFile(b"%PDF-1.4 signed form"), save=False)
    record.save()
    unconfirmed = SubscriberFactory(mailing_list=mailing_list, status="unconfirmed")
    draft = CampaignFactory(account=account, lists=[mailing_list], name=f"{marker} draft")
    submitted = submitted_campaign(mailing_list, name=f"{marker} submitted")
    import_job = ImportJob.objects.create(
        account=account,
        mailing_list=mailing_list,
        created_by=owner,
        original_filename="people.csv",
        file_format="csv",
        consent_source="paper_form",
        column_map={"email": 0},
    )
    export_job = ExportJob.objects.create(
        account=account,
        requested_by=owner,
        source="list",
        object_id=mailing_list.pk,
        label=mailing_list.name,
        file_format="csv",
        filename="list.csv",
        status="done",
    )
    export_job.file.save("list.csv", ContentFile(b"email\r\nreader@example.org\r\n"))
    token, _ = api_token_create(user=owner, name=f"{marker} token")
    # A's team: an editor and a viewer beside the owner, and an invitation waiting.
    editor = UserFactory(email="editor@example.com", account=account, role="editor")
    viewer = UserFactory(email="viewer@example.com", account=account, role="viewer")
    invitation = invitation_create(
        account=account, invited_by=owner, email="invited@example.com", role="viewer"
    )
    webhook = WebhookEndpoint.objects.create(
        account=account,
        url="https://hooks.example.com/consentmail",
        events=["subscriber.subscribed"],
        secret="whsec-access-matrix",
    )
    Notification.objects.create(account=account, subject=f"{marker} notice")
    appeal = Appeal.objects.create(
        account=account, frozen_at=timezone.now(), text="We fixed it.", filed_by=owner
    )
    report = AbuseReport.objects.create(
        reporter_email="kim@example.net", comment="Never signed up.", account=account
    )
    world = World(
        owner=owner, other=other, staff=staff, marker=marker, editor=editor, viewer=viewer
    )
    world.objects = {
        "list": mailing_list,
        "subscriber": subscriber,
        "unconfirmed": unconfirmed,
        "record": record,
        "draft": draft,
        "submitted": submitted,
        "consent_request": consent_request_create(
            account=account,
            created_by=owner,
            mailing_list_id=mailing_list.pk,
            from_name="Matrix",
            from_email=draft.from_email,
        ),
        # The list's welcome message (campaigns.welcome), a draft.
        "welcome": welcome_save(
            account=account,
            list_id=mailing_list.pk,
            actor=owner,
            subject=f"{marker} welcome",
            from_name="Matrix",
            from_email=draft.from_email,
            html_body="<p>Welcome!</p>",
        ),
        "import": import_job,
        "export": export_job,
        "token": token,
        "domain": SenderDomainFactory(account=account),
        "webhook": webhook,
        "appeal": appeal,
        "report": report,
        "invitation": invitation,
        "template": EmailTemplate.objects.create(
            account=account, name=f"{marker} template", html_body="<p>Template</p>"
        ),
        "segment": _segment(account, mailing_list),
        "tag": _tag(account, subscriber),
    }
    return world


def _segment(account, mailing_list):
    from campaigns.segment_services import segment_create

    return segment_create(
        account=account,
        name="Matrix segment",
        lists=[mailing_list.pk],
        conditions=[{"field": "tag", "op": "has", "value": "matrix"}],
    )


def _tag(account, subscriber):
    from lists.models import Tag
    from lists.services.tags import subscribers_tags_add

    subscribers_tags_add(account=account, subscriber_ids=[subscriber.pk], names=["matrix"])
    return Tag.objects.get(account=account, name="matrix")


def _message_tokens(world: World):
    from campaigns.tokens import MessageTokens

    return MessageTokens(
        campaign_id=world.objects["draft"].pk, subscriber_id=world.objects["subscriber"].pk
    )


def _consent_button(world: World) -> str:
    from django.core import signing

    from campaigns.rendering import CONSENT_LINK_SALT

    # A test message's button: its page answers without confirming anything.
    return signing.dumps(
        [world.objects["consent_request"].pk, world.objects["subscriber"].pk, 1],
        salt=CONSENT_LINK_SALT,
    )


def _approved_click(world: World) -> str:
    from campaigns.tokens import MessageTokens
    from tests.campaigns.factories import CampaignFactory, with_approved_version

    approved = with_approved_version(
        CampaignFactory(account=world.owner.account, lists=[world.objects["list"]])
    )
    return MessageTokens(
        campaign_id=approved.pk, subscriber_id=world.objects["subscriber"].pk
    ).click(0)


def _token(world: World, route: Route) -> str:
    from accounts.services import email_verification_token
    from accounts.team import invitation_token
    from lists.services.optin import subscription_confirm_token

    makers: dict[str, Callable[[], str]] = {
        "verify_email": lambda: email_verification_token(world.owner),
        "password_reset_confirm": lambda: default_token_generator.make_token(world.owner),
        "subscribe_confirm": lambda: subscription_confirm_token(world.objects["unconfirmed"]),
        # Only an approved campaign's links redirect: the message's campaign was approved.
        "track_click": lambda: _approved_click(world),
        "track_open": lambda: _message_tokens(world).open(),
        "consent_request_yes": lambda: _consent_button(world),
        "unsubscribe": lambda: _message_tokens(world).unsubscribe(),
        "report_spam": lambda: _message_tokens(world).report(),
        "team_join": lambda: invitation_token(world.objects["invitation"]),
    }
    if route.name not in makers:
        pytest.fail(f"{route}: no way to make its <token>; add one to _token() in {__file__}")
    return makers[route.name]()


def _export_token(world: World, route: Route) -> str:
    from lists.services.export_jobs import export_link_token

    return export_link_token(world.objects["export"])


def _campaign_id(world: World, route: Route) -> int:
    # Moderators work on submitted campaigns; senders edit drafts (and consent requests).
    key = "submitted" if route.name.startswith(("moderation", "api-moderation")) else "draft"
    if route.name.startswith("consent_request"):
        key = "consent_request"
    return world.objects[key].pk


# Path parameter -> its value for account A's objects. A new parameter fails the test until it
# has one here.
def _appeal_file_id(world: World, route: Route) -> int:
    """A document sent with an appeal of account A (made on first use: A is not frozen)."""
    from moderation.models import Appeal, AppealFile

    if "appeal_file" not in world.objects:
        appeal = Appeal.objects.create(
            account=world.owner.account, frozen_at=timezone.now(), text="Matrix appeal"
        )
        document = AppealFile(appeal=appeal, original_name="forms.pdf", size=9)
        document.file.save("forms.pdf", ContentFile(b"%PDF-1.4\n"), save=True)
        world.objects["appeal_file"] = document
    return world.objects["appeal_file"].pk


FILLERS: dict[str, Callable[[World, Route], object]] = {
    "file_id": _appeal_file_id,
    "list_id": lambda w, r: w.objects["list"].pk,
    "subscriber_id": lambda w, r: w.objects["subscriber"].pk,
    "record_id": lambda w, r: w.objects["record"].pk,
    "import_id": lambda w, r: w.objects["import"].pk,
    "export_id": lambda w, r: w.objects["export"].pk,
    "export_token": _export_token,
    "campaign_id": _campaign_id,
    "domain_id": lambda w, r: w.objects["domain"].pk,
    "template_id": lambda w, r: w.objects["template"].pk,
    "starter_key": lambda w, r: "newsletter",
    "token_id": lambda w, r: w.objects["token"].pk,
    "webhook_id": lambda w, r: w.objects["webhook"].pk,
    # A's editor: a member the owner may change or remove.
    "user_id": lambda w, r: w.editor.pk,
    "invitation_id": lambda w, r: w.objects["invitation"].pk,
    "account_id": lambda w, r: w.owner.account.pk,
    "appeal_id": lambda w, r: w.objects["appeal"].pk,
    "report_id": lambda w, r: w.objects["report"].pk,
    "segment_id": lambda w, r: w.objects["segment"].pk,
    "tag_id": lambda w, r: w.objects["tag"].pk,
    "public_id": lambda w, r: w.objects["list"].public_id,
    "token": _token,
    "uidb64": lambda w, r: urlsafe_base64_encode(force_bytes(w.owner.pk)),
    "key": lambda w, r: "no-such-logo-key",
    "color": lambda w, r: "1a73e8",
    # The admin checks staff before it reads any object, so any value shows the gate.
    "object_id": lambda w, r: w.owner.pk,
    "id": lambda w, r: w.owner.pk,
    "content_type_id": lambda w, r: 1,
    "app_label": lambda w, r: "accounts",
    "url": lambda w, r: "no-such-admin-page/",
}
# Parameters that name an object of the account (another account must get a 404 for them).
OBJECT_PARAMETERS = {
    "list_id",
    "subscriber_id",
    "record_id",
    "import_id",
    "export_id",
    "export_token",
    "campaign_id",
    "domain_id",
    "token_id",
    "webhook_id",
    "user_id",
    "invitation_id",
    "template_id",
    "segment_id",
    "tag_id",
}


@dataclass(frozen=True)
class Route:
    path: str  # as the resolver spells it: "lists/<int:list_id>/"
    name: str | None
    callback: Callable
    is_regex: bool

    @property
    def parameters(self) -> list[str]:
        if self.is_regex:
            return list(re.compile(self.path).groupindex)
        return [m["name"] for m in PARAMETER.finditer(self.path)]

    @property
    def is_api(self) -> bool:
        return self.path.startswith(API_PREFIX)

    @property
    def is_admin(self) -> bool:
        return self.path.startswith(ADMIN_PREFIX)

    @property
    def names_objects(self) -> bool:
        return bool(OBJECT_PARAMETERS & set(self.parameters))

    def url(self, world: World) -> str:
        values = {}
        for name in self.parameters:
            if name not in FILLERS:
                pytest.fail(unknown_parameters_message([name]))
            values[name] = FILLERS[name](world, self)
        if self.is_regex:
            # The admin's: "admin/^(?P<app_label>accounts|lists)/$", "admin/(?P<url>.*)$".
            path = REGEX_GROUP.sub(lambda m: str(values[m[1]]), self.path)
            return "/" + path.replace("^", "").replace("$", "")
        return "/" + PARAMETER.sub(lambda m: str(values[m["name"]]), self.path)

    def __str__(self) -> str:
        return f"{self.path} ({self.name or 'unnamed'})"


def _walk(patterns, prefix: str = "", namespace: str | None = None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = pattern.name and (f"{namespace}:{pattern.name}" if namespace else pattern.name)
            yield Route(
                path=prefix + str(pattern.pattern),
                name=name,
                callback=pattern.callback,
                is_regex=isinstance(pattern.pattern, RegexPattern),
            )


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


ROUTES = all_routes()
BROWSER_ROUTES = [r for r in ROUTES if not r.is_api and not r.is_admin]
API_ROUTES = [r for r in ROUTES if r.is_api]
ADMIN_ROUTES = [r for r in ROUTES if r.is_admin]


def unknown_parameters_message(names) -> str:
    return (
        f"URL parameter(s) {sorted(names)} have no filler in {__file__} FILLERS: add one that "
        "returns the value for account A's object, so that the new page is checked for who may "
        "open it."
    )


# --- what the answers must be ---------------------------------------------------------------------


def is_login_redirect(response, url: str, *, login: str = "/login/") -> bool:
    if response.status_code != 302:
        return False
    location = urlsplit(response["Location"])
    return location.path == login and f"next={url.split('?')[0]}" in unquote(location.query)


def body(response) -> str:
    """The response's text, streamed or not (a download is a FileResponse)."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode()


def describe(response) -> str:
    location = response.get("Location", "")
    return f"{response.status_code}{' -> ' + location if location else ''}"


class _PostForms(HTMLParser):
    """The POST forms of a page: (action, has a CSRF token)."""

    def __init__(self):
        super().__init__()
        self.forms: list[list] = []
        self._open = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self.forms.append([attrs.get("action") or "", False])
            self._open = True
        elif tag == "input" and self._open and attrs.get("name") == "csrfmiddlewaretoken":
            self.forms[-1][1] = bool(attrs.get("value"))

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = False


def post_forms_without_token(html: str) -> list[str]:
    parser = _PostForms()
    parser.feed(html)
    return [action or "(this page)" for action, has_token in parser.forms if not has_token]
