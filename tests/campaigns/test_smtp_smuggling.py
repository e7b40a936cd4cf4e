"""SMTP smuggling (issue 17, finding 8): a merge value holding "\\r.\\r\\n", "\\n.\\n" or
"\\r\\n.\\r" cannot end DATA early. Every bare CR and LF becomes CRLF before dot-stuffing, so
the payload stays inside the one message on a strict server (aiosmtpd) and on a lax relay that
ends lines at a bare CR or LF, as some relays do (the smuggling research's targets)."""

import re
import socketserver
import threading
from datetime import date

import pytest

from campaigns import delivery
from campaigns.delivery import SmtpTransport
from campaigns.mime import raw_message
from campaigns.rendering import CampaignContent, Recipient, compile_campaign

SMUGGLED = (
    "MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nFrom: ceo@bank.example"
)
PAYLOADS = ["\r.\r\n", "\n.\n", "\r\n.\r", "\n.\r\n", "\r\n.\n", "\r.\r"]
# The transport DKIM-signs with the From domain's key when there is one: it looks in the database.
pytestmark = pytest.mark.django_db


class LaxRelay(socketserver.ThreadingTCPServer):
    """Just enough ESMTP (with PIPELINING and 8BITMIME) to take mail, reading CR, LF and CRLF
    all as line ends: a line of one dot ends DATA, and what follows is read as commands."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _LaxHandler)
        self.mail_from: list[bytes] = []
        self.messages: list[bytes] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


_LINE_END = re.compile(rb"\r\n|\r|\n")


class _LaxHandler(socketserver.BaseRequestHandler):
    def handle(self):
        relay: LaxRelay = self.server
        self.request.sendall(b"220 lax.example ESMTP\r\n")
        buffer, data, in_data = b"", [], False
        while True:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            buffer += chunk
            while True:
                end = _LINE_END.search(buffer)
                # A CR at the very end may be the first half of a CRLF still on its way.
                if end is None or (end.group() == b"\r" and end.end() == len(buffer)):
                    break
                line, buffer = buffer[: end.start()], buffer[end.end() :]
                if in_data:
                    if line == b".":
                        relay.messages.append(b"\r\n".join(data))
                        data, in_data = [], False
                        self.request.sendall(f"250 queued as {len(relay.messages)}\r\n".encode())
                    else:
                        data.append(line[1:] if line.startswith(b".") else line)
                    continue
                verb = line[:4].upper()
                if verb == b"EHLO":
                    self.request.sendall(b"250-lax.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                elif verb == b"MAIL":
                    relay.mail_from.append(line)
                    self.request.sendall(b"250 ok\r\n")
                elif verb == b"DATA":
                    in_data = True
                    self.request.sendall(b"354 go on\r\n")
                elif verb == b"QUIT":
                    self.request.sendall(b"221 bye\r\n")
                    return
                elif verb in (b"RCPT", b"RSET", b"NOOP", b"HELO"):
                    self.request.sendall(b"250 ok\r\n")
                else:
                    self.request.sendall(b"500 what\r\n")


@pytest.fixture
def lax_relay(settings):
    relay = LaxRelay()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = relay.port
    settings.VERP_ENABLED = False
    try:
        yield relay
    finally:
        relay.stop()


@pytest.fixture
def strict_sink(settings, mail_sink):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = mail_sink.port
    settings.VERP_ENABLED = False
    return mail_sink


def _rendered(name: str):
    """A campaign message to a subscriber called `name`, merged into both parts and the
    subject."""
    content = CampaignContent(
        campaign_id=7,
        account_id=3,
        subject="Hello {{ subscriber.name }}",
        from_name="Acme News",
        from_email="news@news.acme.example",
        reply_to="",
        html_body="<p>Hello {{ subscriber.name }}, our winter menu.</p>",
        text_body="Hello {{ subscriber.name }}, our winter menu.",
        company_name="Acme Ltd",
        postal_address="1 Mill Lane, Leeds",
    )
    recipient = Recipient(
        subscriber_id=11,
        email="ann@example.org",
        name=name,
        phone="",
        attributes={},
        list_id=5,
        list_name="Monthly news",
        consent_source="web_form",
        consented_at=date(2025, 1, 2),
    )
    return compile_campaign(content).render(recipient)


def _send(rendered) -> str:
    transport = SmtpTransport()
    try:
        return transport.send(rendered)
    finally:
        transport.close()


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
def test_a_lax_relay_sees_one_message_with_the_payload_inside(lax_relay, payload):
    rendered = _rendered(f"Ann{payload}{SMUGGLED}")

    assert _send(rendered) == "queued as 1"

    assert lax_relay.mail_from == [b"MAIL FROM:<news@news.acme.example> BODY=8BITMIME"]
    (message,) = lax_relay.messages
    # The text part: each bare CR or LF became a line end, the dot line a line of the message.
    assert (
        b"Hello Ann\r\n.\r\nMAIL FROM:<ceo@bank.example>\r\nRCPT TO:<victim@example.org>\r\n"
        b"DATA\r\nFrom: ceo@bank.example, our winter menu." in message
    )


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
def test_a_strict_server_gets_one_message_with_the_payload_intact(strict_sink, payload):
    rendered = _rendered(f"Ann{payload}{SMUGGLED}")

    _send(rendered)

    (stored,) = strict_sink.messages()
    assert stored.message["X-Sink-Mail-From"].strip() == "news@news.acme.example"
    assert stored.message["X-Sink-Rcpt-To"].strip() == "ann@example.org"
    # Each bare CR or LF became a line end; nothing was lost or added in between.
    line_ends = re.sub(r"\r\n|\r|\n", "\n", payload)
    expected = f"Hello Ann{line_ends}{SMUGGLED.replace(chr(13) + chr(10), chr(10))}, our winter"
    assert expected in stored.text.replace("\r\n", "\n")
    assert "ceo@bank.example" in stored.html
    assert stored.message["Subject"].startswith("Hello Ann . MAIL FROM:<ceo@bank.example>")


def test_the_mime_bytes_hold_no_bare_cr_or_lf():
    raw = raw_message(_rendered("Ann\r.\r\n\n.\n\r\n.\r" + SMUGGLED), eight_bit=True)

    assert raw.count(b"\r") == raw.count(b"\n") == raw.count(b"\r\n")
    assert b"\r\n.\r\n" in raw  # the dot lines are lines of their own, for the stuffing to find


def test_the_transport_normalises_line_ends_even_if_the_mime_did_not(lax_relay, monkeypatch):
    """Defence in depth: DATA itself never carries a bare CR or LF, whatever raw_message made."""

    def unnormalised(rendered, *, eight_bit):
        return (
            b"From: news@news.acme.example\r\nTo: ann@example.org\r\nSubject: x\r\n\r\n"
            + f"Ann\r.\r\n{SMUGGLED}\n.\nmore\r\n.\rend".encode()
        )

    monkeypatch.setattr(delivery, "raw_message", unnormalised)

    _send(_rendered("Ann"))

    assert len(lax_relay.mail_from) == 1
    (message,) = lax_relay.messages
    assert message.endswith(b"\r\n.\r\nmore\r\n.\r\nend")
    assert b"MAIL FROM:<ceo@bank.example>" in message


def test_a_line_starting_with_a_dot_reaches_a_strict_server_intact(strict_sink):
    """Dot-stuffing still happens when the message says a line starts with a dot."""
    rendered = _rendered("Ann")
    rendered = type(rendered)(
        **(rendered.__dict__ | {"text": ".hidden line\n..two dots\n" + rendered.text})
    )

    _send(rendered)

    (stored,) = strict_sink.messages()
    assert stored.text.replace("\r\n", "\n").startswith(".hidden line\n..two dots\n")
