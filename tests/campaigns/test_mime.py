"""The hand-built MIME message parses back to what Django's EmailMultiAlternatives would send."""

import email
import email.policy
from email.headerregistry import Address

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
        "from_name": "Acme Café",
        "from_email": "news@news.acme.example",
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


def test_the_from_names_exactly_the_approved_address_whatever_its_name_holds():
    """Finding 3, with the hostile name already in the database (validation refuses it): the name
    is made one line and quoted; the only address is the approved one."""
    raw = raw_message(rendered(from_name="PayPal\r <service@paypal.com>"), eight_bit=True)

    message = parse(raw)
    assert len(message.get_all("From")) == 1
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "PayPal <service@paypal.com>",
        "news@news.acme.example",
    )
    assert b'From: "PayPal <service@paypal.com>" <news@news.acme.example>\r\n' in raw


@pytest.mark.parametrize(
    "name",
    [
        'PayPal" <service@paypal.com> (',
        "service@paypal.com",
        "a, b <c@d.example>, e@f.example",
        "=?utf-8?b?UGF5UGFsIDxzZXJ2aWNlQHBheXBhbC5jb20+?=",
        "Caf\u00e9 =?utf-8?q?PayPal?= \u2028 \x00",
        '\\\\"',
    ],
)
def test_a_from_name_is_shown_as_typed_and_never_adds_an_address(name):
    message = parse(raw_message(rendered(from_name=name), eight_bit=True))

    (sender,) = message["From"].addresses
    assert sender.addr_spec == "news@news.acme.example"
    assert sender.display_name == " ".join(name.replace("\u2028", " ").replace("\x00", " ").split())


def test_an_encoded_word_in_a_subject_reaches_the_reader_as_typed():
    subject = "Your =?utf-8?b?UGF5UGFs?= account"
    message = parse(raw_message(rendered(subject=subject), eight_bit=True))
    assert message["Subject"] == subject


def test_a_plain_to_address_is_written_as_the_email_package_would():
    policy = email.policy.SMTP
    for address in ("ann@example.org", "o'neil+news@mail.example.co.uk", "x{y}|z~@a-b.example"):
        raw = raw_message(rendered(to=address), eight_bit=True)
        folded = policy.header_factory("To", Address(addr_spec=address)).fold(policy=policy)
        assert folded.encode() in raw


def test_an_address_that_is_not_one_is_refused_not_written():
    with pytest.raises(ValueError):
        raw_message(rendered(reply_to="help@acme.example, other@evil.example"))
    with pytest.raises(ValueError):
        raw_message(rendered(from_email="news@news.acme.example> <x@evil.example"))


def test_the_list_id_encodes_only_its_name():
    raw = raw_message(rendered(), eight_bit=True)
    line = next(line for line in raw.split(b"\r\n") if line.startswith(b"List-Id:"))
    assert line.endswith(b" <list-1.news.acme.example>")
    assert line.isascii() and b"=?utf-8?" in line
    assert parse(raw)["List-Id"] == "Monthly news – Café <list-1.news.acme.example>"


def test_long_subjects_fold_and_decode_to_the_same_text():
    subject = "Зимнее меню для вас, " * 30
    raw = raw_message(rendered(subject=subject), eight_bit=True)
    folded = raw.split(b"Subject: ")[1].split(b"\r\nDate: ")[0]
    assert folded.count(b"\r\n ") > 5
    assert max(len(line) for line in folded.split(b"\r\n")) <= 78
    assert parse(raw)["Subject"] == subject.strip()


def test_bare_cr_and_lf_in_a_part_become_crlf():
    raw = raw_message(rendered(text="a\rb\nc\r\nd\r\r\ne\x00f"), eight_bit=True)
    assert b"a\r\nb\r\nc\r\nd\r\n\r\nef" in raw
    assert raw.count(b"\r") == raw.count(b"\n") == raw.count(b"\r\n")


def test_the_django_message_builds_its_from_from_an_address():
    for return_path in ("bounce+ref@bounces.example", ""):
        message = email_message(
            rendered(from_name='PayPal" <service@paypal.com> (', return_path=return_path)
        )
        parsed = parse(message.message().as_bytes())
        (sender,) = parsed["From"].addresses
        assert (sender.display_name, sender.addr_spec) == (
            'PayPal" <service@paypal.com> (',
            "news@news.acme.example",
        )
