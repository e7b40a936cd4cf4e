"""A rendered message as the bytes an SMTP server takes, built directly.

Python's email package builds a message as a tree of objects and then generates it: about 1.5 ms
a message, more than rendering it, and the send rate's ceiling. A campaign message always has the
same shape (multipart/alternative with a text and an HTML part), so it is written here as one
string, each part sent as 7bit or 8bit when its lines allow (the footer keeps them short) and as
quoted-printable otherwise. The result parses back to the same message Django's
EmailMultiAlternatives would make (tests/campaigns/test_mime.py).

Headers are built, never concatenated from text:
- Addresses (From, Reply-To, To) are `email.headerregistry.Address` objects folded by
  `email.policy.SMTP`, and the result is parsed back before use: it must name exactly the one
  address given, with the display name given. The policy's parser decodes anything that looks
  like an RFC 2047 encoded word, so a display name typed as "=?utf-8?b?...?=" would reach the
  reader as other text; such a name is then encoded whole instead (the reader sees what was
  typed). From and Reply-To are built once per campaign (cached); a plain To address is written
  as the policy writes it, without the ~100 µs the policy takes.
- Text (Subject, the List-Id's name) is made one line (control characters and line separators
  become spaces) and written as it is when it is short printable ASCII, else encoded whole as
  RFC 2047 encoded words. Not through the policy: it costs ~110 µs a header on every recipient's
  subject, it too decodes encoded-word lookalikes (a merged "=?utf-8?b?...?=" would be shown as
  other text than the moderator saw), and it turns long ASCII tokens into encoded words.
- Every other header (Message-ID, List-Unsubscribe...) is ASCII we generate; it is still made
  one line, so no value can start a header of its own.
Bodies: every bare CR and bare LF becomes CRLF (and NUL, which SMTP forbids, is dropped) before
the transport dot-stuffs, so no merge value can end DATA early on a lax relay (SMTP smuggling).
"""

from __future__ import annotations

import binascii
import email.policy
import re
import secrets
import time
from collections.abc import Callable
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address
from email.utils import formatdate
from functools import lru_cache

from campaigns.rendering import SMTP_LINE_LIMIT, PartLines, RenderedMessage
from config.text import one_line

POLICY = email.policy.SMTP
# SMTP's limit is 998 octets a line; a little margin for the CRLF and dot-stuffing.
MAX_LINE = SMTP_LINE_LIMIT
# Printable ASCII, one line, short enough to write unfolded; the caller also rules out "=?".
_PLAIN_TEXT = re.compile(r"[\x20-\x7e]{0,900}")
# A List-Id phrase that needs neither quoting nor encoding: atoms and spaces.
_PLAIN_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]{0,200}")
# A dot-atom address the policy writes unchanged (tests/campaigns/test_mime.py checks it).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
# What the email package's header parser has been seen to raise on hostile text besides
# HeaderParseError (Python 3.11: a TypeError inside get_bare_quoted_string, for one).
_PARSER_ERRORS = (HeaderParseError, ValueError, IndexError, TypeError, AttributeError)
_date_cache: tuple[int, str] = (0, "")


def _date_header() -> str:
    # One formatdate a second, not one a message.
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, localtime=False))
    return _date_cache[1]


def _encoded(name: str, text: str) -> str:
    """`text` as RFC 2047 encoded words, folded: decoded, it is exactly `text`."""
    return Header(text, "utf-8", header_name=name).encode(linesep="\r\n")


def _names_exactly(name: str, folded: str, display_name: str, addr_spec: str) -> bool:
    """Whether the folded header parses back to the one address with that display name.

    Whitespace is not compared: Python 3.11's parser puts a space between adjacent encoded words
    of a display name, which RFC 2047 (6.2) says readers ignore; what the check is for is an
    address or a decoded lookalike, never a space."""
    try:
        header = POLICY.header_factory(name, folded.partition(":")[2].replace("\r\n", ""))
        addresses = header.addresses
    except _PARSER_ERRORS:
        return False
    return (
        len(addresses) == 1
        and addresses[0].addr_spec == addr_spec
        and _without_spaces(addresses[0].display_name) == _without_spaces(display_name)
    )


def _without_spaces(text: str) -> str:
    return "".join(text.split())


@lru_cache(maxsize=1024)
def address_header(name: str, display_name: str, addr_spec: str) -> str:
    """`name: display name <address>` and its CRLF, built by the email package and checked to
    parse back to exactly that one address. The display name is made one line first. ValueError
    for an address that is not one; UnicodeEncodeError for a non-ASCII one (that needs
    SMTPUTF8, which is not offered)."""
    addr_spec.encode("ascii")
    display_name = one_line(display_name)
    address = Address(display_name=display_name, addr_spec=addr_spec)
    try:
        folded = POLICY.header_factory(name, address).fold(policy=POLICY)
    except _PARSER_ERRORS:
        folded = ""
    if not folded or not _names_exactly(name, folded, display_name, address.addr_spec):
        # An encoded-word lookalike in the name (or a folding quirk): encode the name whole.
        phrase = f"{_encoded(name, display_name)} " if display_name else ""
        folded = f"{name}: {phrase}<{address.addr_spec}>\r\n"
        if not _names_exactly(name, folded, display_name, address.addr_spec):
            raise ValueError(f"cannot write a {name} header for {addr_spec!r}")
    return folded


def _to_header(addr_spec: str) -> str:
    if len(addr_spec) <= 72 and _PLAIN_ADDRESS.fullmatch(addr_spec):
        return f"To: {addr_spec}\r\n"
    return address_header("To", "", addr_spec)


def _text_header(name: str, value: str) -> str:
    """An unstructured header: one line; written as it is if short printable ASCII, else (or
    if it holds "=?", which readers would decode) as encoded words."""
    if not _PLAIN_TEXT.fullmatch(value):
        value = one_line(value)
        if not _PLAIN_TEXT.fullmatch(value):
            return f"{name}: {_encoded(name, value)}\r\n"
    if "=?" in value:
        return f"{name}: {_encoded(name, value)}\r\n"
    return f"{name}: {value}\r\n"


def _list_id_header(value: str) -> str:
    """RFC 2919: `name <list-id>`; only the name may need encoding."""
    phrase, bracket, list_id = value.rpartition(" <")
    phrase = one_line(phrase)
    if not bracket or not _PLAIN_TEXT.fullmatch(list_id) or "=?" in list_id:
        return _text_header("List-Id", value)
    if not _PLAIN_PHRASE.fullmatch(phrase) or "=?" in phrase:
        phrase = _encoded("List-Id", phrase)
    return f"List-Id: {phrase} <{list_id}\r\n"


def _generated_header(name: str, value: str) -> str:
    if name == "List-Id":
        return _list_id_header(value)
    return _text_header(name, value)


def _has_long_line(data: bytes) -> bool:
    # Splitting is linear and in C; a regex such as [^\n]{990,} backtracks at every position.
    return max(map(len, data.split(b"\n"))) > MAX_LINE


class MimeBytes(bytes):
    """What raw_message makes: bytes every line of which ends in CRLF (no bare CR or LF), so
    by construction, with `dot_lines`: whether a line starts with "." (SMTP's dot-stuffing has
    work to do). Any change to them (a concatenation, a slice) gives plain bytes, about which
    the transport then knows nothing and checks everything."""

    dot_lines: bool = True


def signed_in_front(message: MimeBytes, sign: Callable[[bytes], bytes]) -> bytes:
    """`sign(message)`, which may only put header fields in front of it (a DKIM signature),
    kept MimeBytes with the message's own facts when what it put there is clean too (CRLF
    line ends only, no line starting with "."): the transport then trusts the whole, instead of
    checking 50 KB again because 500 bytes were added. Anything else comes back as it is."""
    signed = sign(message)
    if signed is message or not isinstance(message, MimeBytes):
        return signed
    front = signed[: len(signed) - len(message)]
    clean = (
        signed.endswith(message)
        and front.endswith(b"\r\n")
        and front.count(b"\r") == front.count(b"\n") == front.count(b"\r\n")
        and not front.startswith(b".")
        and b"\n." not in front
    )
    if not clean:
        return signed
    result = MimeBytes(signed)
    result.dot_lines = message.dot_lines
    return result


def _part(
    content_type: str,
    text: str,
    *,
    eight_bit: bool,
    lines: PartLines | None,
) -> tuple[bytes, bool]:
    """One part, its lines CRLF-ended, and whether a line of it starts with ".". `lines`: what
    the renderer knows of them (campaigns.rendering.PartLines); a longest line within MAX_LINE
    need not be measured (the clean-up below only ever shortens lines)."""
    line_bound = dot_lines = None
    if lines is not None and lines.about(text):
        line_bound, dot_lines = lines.longest_line_bound, lines.dot_lines
    data = text.encode()
    # Single bytes: these tests run at memchr speed.
    if b"\r" in data:
        # Every bare CR (and CRLF) becomes one line end: "\r.\r\n" in a merge value must not
        # reach DATA as a line of its own on a relay that ends lines at a bare CR.
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        dot_lines = None
    if b"\x00" in data:
        data = data.replace(b"\x00", b"")
        dot_lines = None
    long_lines = (line_bound is None or line_bound > MAX_LINE) and _has_long_line(data)
    if data.isascii() and not long_lines:
        encoding = "7bit"
    elif eight_bit and not long_lines:
        encoding = "8bit"
    else:
        encoding = "quoted-printable"
        data = binascii.b2a_qp(data, istext=True)
        dot_lines = None
    if dot_lines is None:
        dot_lines = data.startswith(b".") or b"\n." in data
    head = (
        f"Content-Type: {content_type}; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode()
    return head + data.replace(b"\n", b"\r\n"), dot_lines


def raw_message(rendered: RenderedMessage, *, eight_bit: bool = True) -> MimeBytes:
    """The message as SMTP DATA (CRLF line ends, no bare CR or LF anywhere). `eight_bit`: the
    server announced 8BITMIME, so non-ASCII parts may go unencoded."""
    boundary = "=_cm" + secrets.token_hex(12)
    headers = [
        address_header("From", rendered.from_name, rendered.from_email),
        _to_header(rendered.to),
        _text_header("Subject", rendered.subject),
        f"Date: {_date_header()}\r\n",
    ]
    if rendered.reply_to:
        headers.append(address_header("Reply-To", "", rendered.reply_to))
    headers.extend(_generated_header(name, value) for name, value in rendered.headers.items())
    headers.append(
        f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
    )
    head = "".join(headers).encode()
    unpaired = head.replace(b"\r\n", b"")
    if b"\n" in unpaired or b"\r" in unpaired:
        # Every header above is one line or folded with CRLF by the email package; a bare
        # CR or LF here would be a bug, and is refused rather than sent.
        raise ValueError("a header line does not end in CRLF")
    separator = f"\r\n--{boundary}\r\n".encode()
    text, text_dots = _part(
        "text/plain",
        rendered.text,
        eight_bit=eight_bit,
        lines=rendered.text_lines,
    )
    html, html_dots = _part(
        "text/html",
        rendered.html,
        eight_bit=eight_bit,
        lines=rendered.html_lines,
    )
    message = MimeBytes(
        b"".join((head, separator[2:], text, separator, html, f"\r\n--{boundary}--\r\n".encode()))
    )
    # Header lines start with a name or, folded, with white space; boundary lines with "--".
    message.dot_lines = text_dots or html_dots
    return message


def envelope_sender(rendered: RenderedMessage) -> str:
    """The SMTP MAIL FROM: the VERP return path when there is one, else the From address."""
    return rendered.return_path or rendered.from_email
