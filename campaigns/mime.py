"""A rendered message as the bytes an SMTP server takes, built directly.

Python's email package builds a message as a tree of objects and then generates it: about 1.5 ms
a message, more than rendering it, and the send rate's ceiling. A campaign message always has the
same shape (multipart/alternative with a text and an HTML part), so it is written here as one
string: headers encoded only where they need it, each part sent as 7bit or 8bit when its lines
allow (the footer keeps them short) and as quoted-printable otherwise. The result parses back to
the same message Django's EmailMultiAlternatives would make (tests/campaigns/test_mime.py).
"""

from __future__ import annotations

import binascii
import re
import secrets
import time
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr

from campaigns.rendering import RenderedMessage

# SMTP's limit is 998 octets a line; a little margin for the CRLF and dot-stuffing.
MAX_LINE = 990
_NEEDS_ENCODING = re.compile(r"[^\x20-\x7e]")
_date_cache: tuple[int, str] = (0, "")


def _date_header() -> str:
    # One formatdate a second, not one a message.
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, localtime=False))
    return _date_cache[1]


def _header(name: str, value: str) -> str:
    if _NEEDS_ENCODING.search(value):
        value = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {value}\r\n"


def _address_header(name: str, value: str) -> str:
    # Only the display name may be encoded; the address itself must stay as it is.
    if _NEEDS_ENCODING.search(value):
        value = formataddr(parseaddr(value), charset="utf-8")
    return _header(name, value)


def _has_long_line(data: bytes) -> bool:
    # Splitting is linear and in C; a regex such as [^\n]{990,} backtracks at every position.
    return max(map(len, data.split(b"\n"))) > MAX_LINE


def _part(content_type: str, text: str, *, eight_bit: bool) -> bytes:
    data = text.replace("\r\n", "\n").encode()
    long_lines = _has_long_line(data)
    if data.isascii() and not long_lines:
        encoding = "7bit"
    elif eight_bit and not long_lines:
        encoding = "8bit"
    else:
        encoding = "quoted-printable"
        data = binascii.b2a_qp(data, istext=True)
    head = (
        f"Content-Type: {content_type}; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode()
    return head + data.replace(b"\n", b"\r\n")


def raw_message(rendered: RenderedMessage, *, eight_bit: bool = True) -> bytes:
    """The message as SMTP DATA (CRLF line ends). `eight_bit`: the server announced 8BITMIME,
    so non-ASCII parts may go unencoded."""
    boundary = "=_cm" + secrets.token_hex(12)
    headers = [
        _address_header("From", rendered.from_header),
        _address_header("To", rendered.to),
        _header("Subject", rendered.subject),
        f"Date: {_date_header()}\r\n",
    ]
    if rendered.reply_to:
        headers.append(_address_header("Reply-To", rendered.reply_to))
    headers.extend(_header(name, value) for name, value in rendered.headers.items())
    headers.append(
        f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
    )
    separator = f"\r\n--{boundary}\r\n".encode()
    return b"".join(
        (
            "".join(headers).encode(),
            separator[2:],
            _part("text/plain", rendered.text, eight_bit=eight_bit),
            separator,
            _part("text/html", rendered.html, eight_bit=eight_bit),
            f"\r\n--{boundary}--\r\n".encode(),
        )
    )


def envelope_sender(rendered: RenderedMessage) -> str:
    """The SMTP MAIL FROM: the VERP return path when there is one, else the From address."""
    if rendered.return_path:
        return rendered.return_path
    return parseaddr(rendered.from_header)[1]
