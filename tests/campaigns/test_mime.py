"""The hand-built MIME message parses back to what Django's EmailMultiAlternatives would send."""

import email
import email.policy

import pytest

from campaigns.mail import email_message
from campaigns.mime import envelope_sender, raw_message
from campaigns.rendering import RenderedMessage


def rendered(**changes) -> RenderedMessage:
    values = {
        "subject": "Winter menu for Ann – ünïcödé",
        "html": (
            "<!DOCTYPE html>\n<html><body><p>Grüße, Ann</p>\n<p>.leading dot</p></body></html>\n"
        ),
        "text": "Grüße, Ann\n.leading dot\n\n-- \nUnsubscribe: https://x.example/u/abc/\n",
        "from_header": "Acme Café <news@news.acme.example>",
        "to": "ann@example.org",
        "reply_to": "help@acme.example",
        "return_path": "bounce+ref@bounces.example",
        "headers": {
            "Message-ID": "<ref@news.acme.example>",
            "List-Unsubscribe": "<https://x.example/u/abc/>, <mailto:unsubscribe+abc@b.example>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": "Monthly news – Café <list-1.news.acme.example>",
            "Feedback-ID": "1:2:campaign:consentmail",
        },
        "message_ref": "ref",
    }
    return RenderedMessage(**(values | changes))


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


@pytest.mark.parametrize("eight_bit", [True, False])
def test_the_raw_message_parses_to_the_same_headers_and_parts_as_djangos(eight_bit):
    message = rendered()
    ours = parse(raw_message(message, eight_bit=eight_bit))
    django = parse(email_message(message).message().as_bytes())

    for name in ("Subject", "To", "Reply-To", "Message-ID", "List-Unsubscribe", "List-Id"):
        # Django's folding leaves a leading space on some encoded headers.
        assert str(ours[name]) == str(django[name]).strip(), name
    assert str(ours["From"]) == "Acme Café <news@news.acme.example>"
    assert ours["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert ours.get_content_type() == "multipart/alternative"
    for part in ("plain", "html"):
        # On the wire every line ends in CRLF; Django's as_bytes() writes LF.
        mine = ours.get_body((part,)).get_content().replace("\r\n", "\n")
        assert mine == django.get_body((part,)).get_content(), part
    assert ours["Date"]


def test_parts_are_8bit_only_when_the_server_allows_and_lines_are_short():
    eight = raw_message(rendered(), eight_bit=True)
    seven = raw_message(rendered(), eight_bit=False)
    assert b"Content-Transfer-Encoding: 8bit" in eight
    assert b"Content-Transfer-Encoding: 8bit" not in seven
    assert seven.isascii()
    assert all(len(line) <= 998 for line in seven.split(b"\r\n"))

    long_line = rendered(html="<p>" + "x" * 2000 + "</p>", text="plain")
    raw = raw_message(long_line, eight_bit=True)
    assert b"Content-Transfer-Encoding: quoted-printable" in raw
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert parse(raw).get_body(("html",)).get_content() == "<p>" + "x" * 2000 + "</p>"


def test_every_line_ends_in_crlf_and_headers_cannot_be_injected():
    raw = raw_message(rendered(subject="Hi\r\nBcc: victim@example.org"), eight_bit=True)
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert parse(raw)["Bcc"] is None


def test_the_envelope_sender_is_the_verp_address_or_the_from_address():
    assert envelope_sender(rendered()) == "bounce+ref@bounces.example"
    assert envelope_sender(rendered(return_path="")) == "news@news.acme.example"
