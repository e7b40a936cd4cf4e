"""What a rendered message says of its own lines (the longest line's bound, whether a line
starts with a dot) holds for any merge value: campaigns.mime and the SMTP transport skip
measuring and dot-stuffing 50 KB a message on its word."""

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.mime import MimeBytes, raw_message, signed_in_front
from campaigns.rendering import CampaignContent, Recipient, compile_campaign

CONTENT = CampaignContent(
    campaign_id=7,
    account_id=3,
    subject="Hello {{ subscriber.name }}",
    from_name="Acme News",
    from_email="news@news.acme.example",
    reply_to="",
    html_body=(
        "<p>{{ subscriber.name }}</p>\n<p>Dear {{ subscriber.first_name }}, "
        '<a href="https://acme.example/menu">our menu</a> for '
        "{{ subscriber.attributes.city | default('you') }}.</p>"
    ),
    text_body=(
        "{{ subscriber.name }}\nDear {{ subscriber.first_name }}, our menu "
        "https://acme.example/menu for {{ subscriber.attributes.city | default('you') }}."
    ),
    company_name="Acme Ltd",
    postal_address="1 Mill Lane, Leeds",
)

VALUES = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=".\r\n\x00 aé€😀", max_size=20),
    st.text(alphabet="a€", min_size=300, max_size=1200),
    st.sampled_from([".", ".dot", "a\n.b", "x\r.y", "a\r\n.\r\nb", "\x00.", "."]),
)


def _recipient(name: str, city: str) -> Recipient:
    return Recipient(
        subscriber_id=11,
        email="ann@example.org",
        name=name,
        phone="",
        attributes={"city": city},
        list_id=5,
        list_name="Monthly news",
        consent_source="web_form",
        consented_at=date(2025, 1, 2),
    )


def _lines(text: str) -> list[bytes]:
    return re.sub(r"\r\n|\r", "\n", text).replace("\x00", "").encode().split(b"\n")


@settings(max_examples=300, deadline=None)
@given(name=VALUES, city=VALUES)
def test_the_line_facts_hold_for_any_merge_value(name, city):
    message = compile_campaign(CONTENT).render(_recipient(name, city))

    for text, facts in ((message.text, message.text_lines), (message.html, message.html_lines)):
        assert facts.about(text)
        bound, dots = facts.longest_line_bound, facts.dot_lines
        lines = _lines(text)
        assert bound >= max(map(len, lines))
        # (A NUL is dropped by campaigns.mime, which then looks for dots itself.)
        if dots is not None and "\x00" not in text:
            assert dots == any(line.startswith(b".") for line in lines)


def test_a_value_starting_a_line_with_a_dot_is_known():
    message = compile_campaign(CONTENT).render(_recipient(".hidden", "Leeds"))

    assert message.text_lines.dot_lines is True
    assert message.html_lines.dot_lines is False  # "<p>" starts that line
    plain = compile_campaign(CONTENT).render(_recipient("Ann Lee", "Leeds"))
    assert (plain.text_lines.dot_lines, plain.html_lines.dot_lines) == (False, False)


@settings(max_examples=200, deadline=None)
@given(name=VALUES, city=VALUES)
def test_the_mime_bytes_say_truly_whether_a_line_starts_with_a_dot(name, city):
    raw = raw_message(compile_campaign(CONTENT).render(_recipient(name, city)), eight_bit=True)

    assert isinstance(raw, MimeBytes)
    assert raw.count(b"\r") == raw.count(b"\n") == raw.count(b"\r\n")
    assert raw.dot_lines == (b"\r\n." in raw)


def test_a_long_value_makes_the_part_quoted_printable_as_before():
    raw = raw_message(
        compile_campaign(CONTENT).render(_recipient("Ann " + "é" * 600, "Leeds")), eight_bit=True
    )

    assert raw.count(b"Content-Transfer-Encoding: quoted-printable") == 2
    assert max(map(len, raw.split(b"\r\n"))) <= 998


def test_a_clean_field_put_in_front_keeps_what_the_message_says_of_its_lines():
    raw = raw_message(compile_campaign(CONTENT).render(_recipient(".hidden", "Leeds")))
    field = b"DKIM-Signature: v=1; a=rsa-sha256; d=news.acme.example;\r\n b=abc\r\n"

    signed = signed_in_front(raw, lambda unsigned: field + unsigned)

    assert isinstance(signed, MimeBytes)
    assert signed == field + raw
    assert signed.dot_lines is raw.dot_lines is True


@pytest.mark.parametrize(
    "front",
    [
        b"X-Bad: a\nb\r\n",  # a bare LF
        b"X-Bad: a\r\n.b\r\n",  # a line starting with a dot
        b"X-Bad: no line end",
    ],
)
def test_anything_else_put_in_front_is_checked_in_full_by_the_transport(front):
    raw = raw_message(compile_campaign(CONTENT).render(_recipient("Ann Lee", "Leeds")))

    signed = signed_in_front(raw, lambda unsigned: front + unsigned)

    assert not isinstance(signed, MimeBytes)
    assert signed == front + raw


def test_a_signer_that_changes_the_message_itself_is_not_trusted():
    raw = raw_message(compile_campaign(CONTENT).render(_recipient("Ann Lee", "Leeds")))

    signed = signed_in_front(raw, lambda unsigned: b"X-A: 1\r\n" + unsigned.replace(b"Ann", b"."))

    assert not isinstance(signed, MimeBytes)


def test_an_unsigned_message_comes_back_as_it_was():
    raw = raw_message(compile_campaign(CONTENT).render(_recipient("Ann Lee", "Leeds")))

    assert signed_in_front(raw, lambda unsigned: unsigned) is raw
