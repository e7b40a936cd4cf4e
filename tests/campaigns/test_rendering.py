"""Rendered messages, parsed back with Python's email package: the compliance footer, both
links and the headers are there for every recipient, whatever the author's HTML tries."""

import email
import re
from datetime import datetime
from email import policy
from html.parser import HTMLParser

import pytest

from campaigns.mail import email_message
from campaigns.merge import MergeTagError
from campaigns.rendering import CampaignContent, Recipient, RenderingError, compile_campaign
from campaigns.tokens import TokenKind, unpack
from config.errors import ApplicationError

SITE = "https://app.mailer.example"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = SITE
    settings.BOUNCE_DOMAIN = "bounces.mailer.example"
    settings.VERP_ENABLED = True


def content(**changes) -> CampaignContent:
    fields = {
        "campaign_id": 41,
        "account_id": 7,
        "subject": "Hello {{ subscriber.first_name | default('friend') }}",
        "from_name": "Acme News",
        "from_email": "news@news.acme.example",
        "reply_to": "help@acme.example",
        "html_body": '<p>Hi {{ subscriber.name }}, see <a href="https://acme.example/new?a=1&amp;b=2">'
        "what's new</a>.</p>",
        "text_body": "",
        "company_name": "Acme Ltd",
        "postal_address": "1 Main Street\nSpringfield",
    }
    fields.update(changes)
    return CampaignContent(**fields)


def recipient(n: int = 1, **changes) -> Recipient:
    fields = {
        "subscriber_id": 1000 + n,
        "email": f"reader{n}@example.org",
        "name": f"Reader{n} Smith",
        "phone": "",
        "attributes": {"city": "Leeds"},
        "list_id": 3,
        "list_name": "Monthly news",
        "consent_source": "web_form",
        "consented_at": datetime(2026, 3, 14, 9, 30),
    }
    fields.update(changes)
    return Recipient(**fields)


def parsed(rendered):
    raw = email_message(rendered).message().as_bytes()
    return email.message_from_bytes(raw, policy=policy.default)


def parts(message):
    html = message.get_body(preferencelist=("html",)).get_content()
    text = message.get_body(preferencelist=("plain",)).get_content()
    return html, text


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children: list = []
        self.text: list[str] = []


class Tree(HTMLParser):
    """A small DOM: enough to find the footer and walk its ancestors."""

    VOID = {"br", "hr", "img", "meta", "col", "input", "link", "wbr"}

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [], None)
        self.current = self.root
        self.all: list[Node] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        self.all.append(node)
        if tag not in self.VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.text.append(data)

    def text_of(self, node) -> str:
        return "".join(node.text) + "".join(self.text_of(child) for child in node.children)


def styles(node) -> dict[str, str]:
    declarations = [d.split(":", 1) for d in node.attrs.get("style", "").split(";") if ":" in d]
    return {name.strip().lower(): value.strip().lower() for name, value in declarations}


def assert_footer_visible(html: str, rendered_recipient: Recipient) -> Node:
    """The footer is a direct child of <body>, nothing around it hides it, its text is sized
    and coloured apart from its background, and no <style> survived to target it."""
    tree = Tree(html)
    assert not [n.tag for n in tree.all if n.tag in ("style", "script", "link", "iframe")]
    footers = [n for n in tree.all if n.attrs.get("id") == "compliance-footer"]
    assert len(footers) == 1
    footer = footers[0]
    ancestors = []
    node = footer.parent
    while node is not tree.root:
        ancestors.append(node.tag)
        node = node.parent
    assert ancestors == ["body", "html"]
    for node in [footer, footer.parent, *[n for n in tree.all if _inside(n, footer)]]:
        style = styles(node)
        assert style.get("display") != "none"
        assert style.get("visibility", "visible") == "visible"
        assert style.get("opacity", "1") == "1"
        if "font-size" in style:
            assert int(re.match(r"(\d+)", style["font-size"]).group(1)) >= 12
        if "color" in style and "background-color" in style:
            assert style["color"] != style["background-color"]
    text = " ".join(tree.text_of(footer).split())
    assert f"subscribed to “{rendered_recipient.list_name}” of Acme Ltd" in text
    assert "via our sign-up form on 14 March 2026" in text
    assert "Acme Ltd · 1 Main Street Springfield · news@news.acme.example" in text
    links = {
        tree.text_of(a): a.attrs["href"] for a in tree.all if a.tag == "a" and _inside(a, footer)
    }
    assert links["Unsubscribe"].startswith(f"{SITE}/u/")
    assert links["Report spam"].startswith(f"{SITE}/r/")
    return footer


def _inside(node, ancestor) -> bool:
    node = node.parent
    while node is not None:
        if node is ancestor:
            return True
        node = node.parent
    return False


def token_in(url: str, prefix: str) -> str:
    match = re.fullmatch(re.escape(f"{SITE}{prefix}") + r"([A-Za-z0-9_-]+)/?(?:\.gif)?", url)
    assert match, url
    return match.group(1)


def test_every_recipient_gets_the_footer_links_and_headers():
    compiled = compile_campaign(content())
    for n in range(25):
        who = recipient(n)
        message = parsed(compiled.render(who))
        html, text = parts(message)

        footer = assert_footer_visible(html, who)
        assert footer is not None
        assert message["From"] == "Acme News <news@news.acme.example>"
        assert message["To"] == who.email
        assert message["Reply-To"] == "help@acme.example"
        assert message["Subject"] == f"Hello Reader{n}"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        web, mailto = [part.strip(" <>") for part in message["List-Unsubscribe"].split(",")]
        unsubscribe = unpack(token_in(web, "/u/"), kind=TokenKind.UNSUBSCRIBE)
        assert (unsubscribe.campaign_id, unsubscribe.subscriber_id) == (41, who.subscriber_id)
        assert not unsubscribe.is_test
        assert mailto == (
            f"mailto:unsubscribe+{token_in(web, '/u/')}@bounces.mailer.example?subject=unsubscribe"
        )
        assert f"Unsubscribe: {web}" in text
        report_url = re.search(r"Report spam: (\S+)", text).group(1)
        report = unpack(token_in(report_url, "/r/"), kind=TokenKind.REPORT)
        assert report.subscriber_id == who.subscriber_id
        message_id = message["Message-ID"]
        assert message_id.endswith("@news.acme.example>")
        ref = unpack(message_id[1:].split("@")[0], kind=TokenKind.MESSAGE)
        assert (ref.campaign_id, ref.subscriber_id) == (41, who.subscriber_id)
        assert message["X-Message-Ref"] == message_id[1:].split("@")[0]
        assert message["Feedback-ID"] == "41:7:campaign:consentmail"
        assert message["List-Id"] == "Monthly news <list-3.news.acme.example>"


def test_the_footer_keeps_lines_short_so_the_parts_go_as_8bit():
    message = parsed(compile_campaign(content()).render(recipient()))

    encodings = {
        part.get_content_type(): part["Content-Transfer-Encoding"] for part in message.walk()
    }
    assert encodings["text/html"] == "8bit"
    assert encodings["text/plain"] == "8bit"


def test_the_envelope_sender_is_a_verp_address_naming_the_message():
    rendered = compile_campaign(content()).render(recipient())
    django_message = email_message(rendered)

    assert django_message.from_email == f"bounce+{rendered.message_ref}@bounces.mailer.example"
    assert parsed(rendered)["From"] == "Acme News <news@news.acme.example>"
    assert django_message.metadata == {"message_ref": rendered.message_ref}


def test_without_verp_the_from_address_is_the_envelope_sender(settings):
    settings.VERP_ENABLED = False
    rendered = compile_campaign(content(campaign_id=42)).render(recipient())

    assert email_message(rendered).from_email == "Acme News <news@news.acme.example>"


HOSTILE_BODIES = {
    "hidden wrapper left open": '<div style="display:none"><p>Hi',
    "unclosed comment": "<p>Hi</p><!-- the rest is a comment",
    "unclosed tags": "<table><tr><td><b><i><a href='https://x.example/'>open",
    "style that targets the footer": "<style>#compliance-footer, table, td, p, a "
    "{display:none!important; color:#fff!important; background:#fff!important; "
    "font-size:1px!important; visibility:hidden}</style><p>Hi</p>",
    "same-colour text everywhere": "<style>* {color:#ffffff; background-color:#ffffff}</style>"
    "<body style='color:#fff;background:#fff'><p>Hi</p></body>",
    "overlay": '<div style="position:absolute;top:0;left:0;width:100%;height:100%;'
    'z-index:999;background:#fff">cover</div>',
    "negative margin pull-up": '<div style="margin-bottom:-500px;margin: 0 0 -9999px 0">x</div>',
    "end of document early": "<p>Hi</p></div></td></tr></table></body></html><p>after",
    "raw text elements": "<textarea><p>Hi</p>",
    "title and noscript": "<title>x<noscript><p>Hi",
    "script and iframe": "<script>document.getElementById('compliance-footer').remove()"
    "</script><iframe src='https://evil.example/'></iframe><p>Hi</p>",
    "plaintext and xmp": "<xmp><plaintext><p>Hi",
    "base and link": "<base href='https://evil.example/'><link rel=stylesheet href='https://"
    "evil.example/hide.css'><p>Hi</p>",
    "forged footer id": '<table id="compliance-footer" style="display:none"><tr><td>fake'
    "</td></tr></table>",
    "svg and math": "<svg><style>table{display:none}</style></svg><math><mi>x</mi></math>",
}


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_the_author_cannot_hide_or_remove_the_footer(body):
    who = recipient()
    rendered = compile_campaign(content(html_body=body)).render(who)
    html, text = parts(parsed(rendered))

    assert_footer_visible(html, who)
    assert "Unsubscribe: " in text and "Report spam: " in text
    assert "evil.example" not in html
    assert "<script" not in html.lower()


def test_merge_values_are_escaped_in_html_and_plain_in_text():
    who = recipient(name="<script>alert(1)</script> O'Hara", attributes={"city": '"><img src=x>'})
    compiled = compile_campaign(
        content(
            html_body='<p title="{{ subscriber.attributes.city }}">Hi {{ subscriber.name }}</p>',
            text_body="Hi {{ subscriber.name }} from {{ subscriber.attributes.city }}",
        )
    )
    html, text = parts(parsed(compiled.render(who)))

    assert "<script>alert(1)</script>" not in html
    assert "Hi &lt;script&gt;alert(1)&lt;/script&gt; O&#39;Hara" in html
    assert 'title="&#34;&gt;&lt;img src=x&gt;"' in html
    assert text.startswith("Hi <script>alert(1)</script> O'Hara from \"><img src=x>")


def test_a_merge_value_cannot_inject_headers():
    who = recipient(name="Eve\r\nBcc: victim@example.net")
    message = parsed(compile_campaign(content()).render(who))

    assert message["Subject"] == "Hello Eve Bcc:"
    assert message["Bcc"] is None


def test_missing_values_take_their_default_or_are_empty():
    compiled = compile_campaign(
        content(
            text_body="A{{ subscriber.attributes.plan }}B "
            '{{ subscriber.attributes.plan | default("basic") }} '
            "{{ subscriber.attributes.plan.level }}C {{ subscriber.attributes.city }}"
        )
    )
    rendered = compiled.render(recipient(name=""))

    assert rendered.text.startswith("AB basic C Leeds")
    assert rendered.subject == "Hello friend"


def test_literal_template_syntax_in_the_body_stays_text():
    rendered = compile_campaign(
        content(html_body="<p>{% for x in range(9) %}loop{% endfor %} {# note #}</p>")
    ).render(recipient())

    assert "{% for x in range(9) %}loop{% endfor %} {# note #}" in rendered.html


def test_links_go_through_the_click_tracker_and_the_open_pixel_is_added():
    compiled = compile_campaign(
        content(
            html_body='<a href="https://acme.example/a">A</a> <a href="https://acme.example/b">'
            'B</a> <a href="https://acme.example/a">A again</a> <a href="mailto:x@acme.example">'
            "mail</a>"
        )
    )
    who = recipient()
    html, text = parts(parsed(compiled.render(who)))
    tree = Tree(html)
    hrefs = [a.attrs["href"] for a in tree.all if a.tag == "a"]

    assert compiled.links == ["https://acme.example/a", "https://acme.example/b"]
    clicks = [unpack(token_in(h, "/c/"), kind=TokenKind.CLICK) for h in hrefs[:3]]
    assert [c.link for c in clicks] == [0, 1, 0]
    assert {c.subscriber_id for c in clicks} == {who.subscriber_id}
    assert hrefs[3] == "mailto:x@acme.example"
    # The unsubscribe link is never tracked.
    assert hrefs[4].startswith(f"{SITE}/u/") and hrefs[5].startswith(f"{SITE}/r/")
    pixels = [img.attrs["src"] for img in tree.all if img.tag == "img"]
    assert len(pixels) == 1
    assert unpack(token_in(pixels[0], "/o/"), kind=TokenKind.OPEN).subscriber_id == 1001
    assert f"{SITE}/c/" in text


def test_a_list_without_tracking_gets_plain_links_and_no_pixel():
    compiled = compile_campaign(content())
    rendered = compiled.render(recipient(track_clicks=False, track_opens=False))

    assert 'href="https://acme.example/new?a=1&amp;b=2"' in rendered.html
    assert "/c/" not in rendered.html and "/c/" not in rendered.text
    assert "/o/" not in rendered.html
    assert "(https://acme.example/new?a=1&b=2)" in rendered.text


def test_the_text_version_is_generated_from_the_html_when_empty():
    rendered = compile_campaign(
        content(
            html_body="<h1>Big news</h1><p>Hello {{ subscriber.first_name }},</p><ul><li>one</li>"
            "<li>two</li></ul><p>Bye<br>Acme</p>"
        )
    ).render(recipient(track_clicks=False))

    assert rendered.text.startswith(
        "Big news\n\nHello Reader1,\n\n- one\n- two\n\nBye\nAcme\n\n-- \n"
    )


def test_the_given_text_version_is_used_with_its_merge_tags():
    rendered = compile_campaign(
        content(text_body="Plain {{ subscriber.email }} https://acme.example/t")
    ).render(recipient())

    assert rendered.text.startswith(f"Plain reader1@example.org {SITE}/c/")


def test_merge_tags_in_link_addresses_are_refused():
    with pytest.raises(MergeTagError) as refused:
        compile_campaign(
            content(html_body='<a href="https://x.example/?e={{ subscriber.email }}">')
        )
    assert refused.value.field == "html_body"
    with pytest.raises(MergeTagError) as refused:
        compile_campaign(content(text_body="Go to https://x.example/{{ subscriber.email }}"))
    assert refused.value.field == "text_body"


def test_css_is_inlined_and_style_blocks_removed():
    rendered = compile_campaign(
        content(html_body="<style>p.lead { color: #b91c1c }</style><p class='lead'>Hi</p>")
    ).render(recipient())

    assert '<p style="color:#b91c1c">Hi</p>' in rendered.html
    assert "<style" not in rendered.html


def test_html_over_the_size_limit_is_refused_before_compiling(settings):
    settings.CAMPAIGN_HTML_MAX_BYTES = 1024

    with pytest.raises(ApplicationError) as refused:
        compile_campaign(content(campaign_id=78, html_body="<p>" + "é" * 600 + "</p>"))
    assert refused.value.field == "html_body"
    assert refused.value.message == "The HTML is larger than 1 KB."


def test_a_campaign_is_compiled_once():
    assert compile_campaign(content(campaign_id=77)) is compile_campaign(content(campaign_id=77))


def test_test_sends_have_test_tokens_the_given_address_and_a_marked_subject():
    rendered = compile_campaign(content()).render(
        recipient(), to="me@acme.example", is_test=True, subject_prefix="[Test] "
    )

    assert rendered.to == "me@acme.example"
    assert rendered.subject == "[Test] Hello Reader1"
    token = token_in(re.search(r"Unsubscribe: (\S+)", rendered.text).group(1), "/u/")
    assert unpack(token, kind=TokenKind.UNSUBSCRIBE).is_test


def test_the_renderer_refuses_a_document_whose_footer_is_not_isolated(monkeypatch):
    import campaigns.rendering as rendering

    monkeypatch.setattr(rendering, "sanitise_html", lambda source, **_: "<div><p>open")
    with pytest.raises(RenderingError):
        rendering.compile_campaign(content(campaign_id=99, html_body="<p>x</p>"))
