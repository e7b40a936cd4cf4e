"""Reading the reports mail systems send back to us, each into the `Feedback` that
`feedback_apply` takes: DSN bounces (RFC 3464), ARF complaints (RFC 5965, and the older
Outlook.com JMRP form), the mailto: unsubscribes our List-Unsubscribe header advertises, and
the common non-standard plain-text bounces.

Every message is untrusted input: anyone can write to the bounce address. Parsing is lenient
and bounded (a size limit, capped field lengths and counts); a report we cannot read raises
`UnparsableReport`, never anything that stops a mailbox run. Nothing in a report is believed but
our signed per-message reference, found in the VERP address the bounce was sent to
(`bounce+{ref}@BOUNCE_DOMAIN`), the returned message's X-Message-Ref, Message-ID or Return-Path,
or an ARF report's Original-Mail-From; and the address a report names is kept only when it is
the address that message went to (`complaints.services.feedback_apply` sees to that).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import quopri
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from email.utils import parseaddr, parsedate_to_datetime

from django.conf import settings

from campaigns.tokens import BadToken, TokenData, TokenKind, unpack
from complaints.models import FeedbackKind, FeedbackSource
from complaints.services import Feedback, message_ref_data, status_is_hard_bounce

DEFAULT_MAX_MESSAGE_BYTES = 10 * 1024 * 1024

# What a message turned out to be.
DSN = "dsn"
ARF = "arf"
JMRP = "jmrp"
MAILTO_UNSUBSCRIBE = "mailto_unsubscribe"
PLAIN_BOUNCE = "plain_bounce"
NOT_A_REPORT = "not_a_report"

# Our tokens are base64url; the bounds only keep the patterns cheap on hostile input.
_REF = r"([A-Za-z0-9_-]{16,64})"
_VERP = re.compile(r"(?<![A-Za-z0-9.+_-])bounce\+" + _REF + "@", re.IGNORECASE)
_UNSUBSCRIBE = re.compile(r"(?<![A-Za-z0-9.+_-])unsubscribe\+" + _REF + "@", re.IGNORECASE)
_MESSAGE_ID_REF = re.compile(r"<" + _REF + "@")
# An inline copy of our headers in a plain-text bounce.
_TEXT_REF = re.compile(
    r"^(?:X-Message-Ref:[ \t]*" + _REF + r"|Message-ID:[ \t]*<" + _REF + "@)",
    re.IGNORECASE | re.MULTILINE,
)
# Headers our MTA writes with the address a message was delivered to (To: as a last resort).
_ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
# SMTP reply code with an enhanced status code ("550 5.1.1", "452-4.2.2"), or the latter alone.
_SMTP_REPLY = re.compile(r"(?<!\d)([45])\d\d[ -]([45]\.\d{1,3}\.\d{1,3})(?![\d.]*\d)")
_ENHANCED = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.]*\d)")
_BASIC_REPLY = re.compile(r"(?<![\d.])([45][0-5]\d)[ -][A-Za-z<]")
_BOUNCE_SENDERS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"}
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status )?notification|delivery fail|failure notice|returned mail|"
    r"mail delivery|non-?delivery|could not be delivered|delivery problem",
    re.IGNORECASE,
)
_ADDRESS = re.compile(r"[^@\s<>;,\"]{1,64}@[^@\s<>;,\"]{1,255}")
_COMPLAINT_TYPES = {"abuse", "fraud", "virus", "other"}
_NOT_COMPLAINT_TYPES = {"not-spam", "auth-failure"}
_STATUS_PARTS = {"message/delivery-status", "message/global-delivery-status"}
_ORIGINAL_MESSAGE_PARTS = {"message/rfc822", "message/global"}
_ORIGINAL_HEADER_PARTS = {"text/rfc822-headers", "message/rfc822-headers", "message/global-headers"}
# Bounds on hostile input.
_MAX_PARTS = 100
_MAX_BLOCKS = 101
_MAX_FIELD = 1000
_MAX_TEXT_SCAN = 256 * 1024
_EVENT_ID_MAX = 200


class UnparsableReport(ValueError):
    """A message we cannot read: too large, not a message, or a report (DSN, ARF) without the
    machine-readable part that says what happened."""


@dataclass(frozen=True)
class ParsedReport:
    """What one message was (`type`: DSN, ARF, ...), and the reports to apply (none for a
    message that is not a report, an ARF "not-spam", a DSN that only says "delivered to a
    list"); `note` says why there are none."""

    type: str
    feedback: tuple[Feedback, ...] = ()
    note: str = ""


def max_message_bytes() -> int:
    return int(getattr(settings, "FEEDBACK_MAX_MESSAGE_BYTES", DEFAULT_MAX_MESSAGE_BYTES))


def parse_report(raw: bytes, *, max_bytes: int | None = None) -> ParsedReport:
    """The reports in one raw message. Pure: reads nothing but the message (and verifies our
    signed references). Raises UnparsableReport for what cannot be read."""
    limit = max_message_bytes() if max_bytes is None else max_bytes
    if len(raw) > limit:
        raise UnparsableReport(f"larger than the {limit}-byte limit")
    message = message_from_bytes(raw, policy=compat32)
    if not message.keys():
        raise UnparsableReport("not a mail message: no headers")
    parts = list(_parts(message))
    types = {part.get_content_type() for part in parts}
    top = message.get_content_type()
    report_type = _param(message, "report-type")
    if (top == "multipart/report" and report_type == "delivery-status") or types & _STATUS_PARTS:
        return _dsn(message, raw, parts)
    if (
        top == "multipart/report" and report_type == "feedback-report"
    ) or "message/feedback-report" in types:
        return _arf(message, raw, parts)
    if top == "multipart/report":
        raise UnparsableReport(f"a multipart/report of unknown type {report_type!r}")
    original = _original_headers(parts)
    if _header(message, "X-HmXmrOriginalRecipient") or (
        original is not None and _header(original, "X-HmXmrOriginalRecipient")
    ):
        return _jmrp(message, raw, original)
    unsubscribe_tokens = _matches(_UNSUBSCRIBE, _envelope_addresses(message))
    if unsubscribe_tokens:
        return _mailto_unsubscribe(message, raw, unsubscribe_tokens)
    return _plain_bounce(message, raw, parts)


# --- DSN (RFC 3464) ---------------------------------------------------------------------------


def _dsn(message: Message, raw: bytes, parts: list[Message]) -> ParsedReport:
    status_part = next((p for p in parts if p.get_content_type() in _STATUS_PARTS), None)
    if status_part is None:
        raise UnparsableReport("a delivery-status report without its delivery-status part")
    blocks = _field_blocks(status_part)
    recipients = [
        fields
        for fields in blocks
        if {"final-recipient", "original-recipient", "action", "status"} & fields.keys()
    ]
    if not recipients:
        raise UnparsableReport("a delivery-status report with no recipient fields")
    per_message = blocks[0] if blocks and blocks[0] is not recipients[0] else {}
    original = _original_headers(parts)
    ref = _pick_ref(
        [
            *_matches(_VERP, _envelope_addresses(message)),
            *_original_refs(original),
            *_matches(_MESSAGE_ID_REF, [per_message.get("x-original-message-id", "")]),
        ]
    )
    report_id = _report_id(message, raw)
    reported_at = _date(_header(message, "Date"))
    feedback = []
    for index, fields in enumerate(recipients):
        status = _status_code(fields.get("status", "")) or _status_code(
            fields.get("diagnostic-code", "")
        )
        kind = _dsn_kind(fields.get("action", ""), status)
        if kind is None:
            continue
        recipient = _address(fields.get("final-recipient", "")) or _address(
            fields.get("original-recipient", "")
        )
        feedback.append(
            Feedback(
                source=FeedbackSource.DSN,
                event_id=_event_id(f"{report_id}:{recipient.lower() or f'#{index}'}"),
                kind=kind,
                message_ref=ref,
                recipient=recipient,
                occurred_at=_date(fields.get("last-attempt-date", ""))
                or _date(per_message.get("arrival-date", ""))
                or reported_at,
                code=status,
                detail=fields.get("diagnostic-code", "") or _describe_action(fields),
            )
        )
    note = "" if feedback else "no recipient failed or was delayed"
    return ParsedReport(DSN, tuple(feedback), note)


def _dsn_kind(action: str, status: str) -> FeedbackKind | None:
    """Failed with a 5.x.x status that is about the address (status_is_hard_bounce; 5.2.2,
    5.3.4 and 5.7.x are not): a hard bounce; failed otherwise (a 4.x.x given up on, or no
    status at all: the weaker reading) or delayed: a soft bounce; delivered or relayed with a
    2.x.x status: delivered. "expanded" (to a mailing list) and contradictions say nothing."""
    action = action.split(" ", 1)[0].strip().lower()
    status_class = status[:1]
    if action == "delayed":
        return FeedbackKind.SOFT_BOUNCE
    if action == "failed":
        return (
            FeedbackKind.HARD_BOUNCE if status_is_hard_bounce(status) else FeedbackKind.SOFT_BOUNCE
        )
    if action in ("delivered", "relayed"):
        return FeedbackKind.DELIVERED if status_class in ("2", "") else None
    if action == "expanded":
        return None
    # No action, or one RFC 3464 does not define: go by the status alone.
    if status_class == "5":
        return (
            FeedbackKind.HARD_BOUNCE if status_is_hard_bounce(status) else FeedbackKind.SOFT_BOUNCE
        )
    if status_class == "4":
        return FeedbackKind.SOFT_BOUNCE
    return None


def _describe_action(fields: dict[str, str]) -> str:
    return "; ".join(
        f"{name}: {fields[key]}"
        for name, key in (("Action", "action"), ("Remote-MTA", "remote-mta"))
        if fields.get(key)
    )


# --- ARF (RFC 5965) and JMRP ------------------------------------------------------------------


def _arf(message: Message, raw: bytes, parts: list[Message]) -> ParsedReport:
    report_part = next(
        (p for p in parts if p.get_content_type() == "message/feedback-report"), None
    )
    if report_part is None:
        raise UnparsableReport("a feedback report without its message/feedback-report part")
    fields: dict[str, str] = {}
    for block in _field_blocks(report_part):
        fields = block | fields  # the first value of a field wins
    feedback_type = fields.get("feedback-type", "").split(" ", 1)[0].lower()
    if not feedback_type:
        raise UnparsableReport("a feedback report without Feedback-Type")
    if feedback_type in _NOT_COMPLAINT_TYPES:
        return ParsedReport(ARF, note=f"feedback type {feedback_type}: not a complaint")
    if feedback_type not in _COMPLAINT_TYPES:
        return ParsedReport(ARF, note=f"unknown feedback type {feedback_type[:40]}")
    original = _original_headers(parts)
    ref = _pick_ref(
        [
            *_original_refs(original),
            *_matches(_VERP, [fields.get("original-mail-from", "")]),
            *_matches(_VERP, _envelope_addresses(message)),
        ]
    )
    detail = "; ".join(
        f"{name}: {fields[key]}"
        for name, key in (
            ("User-Agent", "user-agent"),
            ("Source-IP", "source-ip"),
            ("Reported-Domain", "reported-domain"),
        )
        if fields.get(key)
    )
    complaint = Feedback(
        source=FeedbackSource.ARF,
        event_id=_event_id(_report_id(message, raw)),
        kind=FeedbackKind.COMPLAINED,
        message_ref=ref,
        recipient=_address(fields.get("original-rcpt-to", ""))
        or _address(fields.get("removal-recipient", "")),
        occurred_at=_date(fields.get("arrival-date", ""))
        or _date(fields.get("received-date", ""))
        or _date(_header(message, "Date")),
        code=feedback_type,
        detail=detail,
    )
    return ParsedReport(ARF, (complaint,))


def _jmrp(message: Message, raw: bytes, original: Message | None) -> ParsedReport:
    """Outlook.com's older Junk Mail Reporting Program form: not ARF, just the reported message
    attached, the complainant in its X-HmXmrOriginalRecipient header."""
    if original is None:
        raise UnparsableReport("a JMRP report without the reported message")
    recipient = _header(original, "X-HmXmrOriginalRecipient") or _header(
        message, "X-HmXmrOriginalRecipient"
    )
    complaint = Feedback(
        source=FeedbackSource.ARF,
        event_id=_event_id(_report_id(message, raw)),
        kind=FeedbackKind.COMPLAINED,
        message_ref=_pick_ref(_original_refs(original)),
        recipient=_address(recipient),
        occurred_at=_date(_header(message, "Date")),
        code="abuse",
        detail="Outlook.com JMRP",
    )
    return ParsedReport(JMRP, (complaint,))


# --- mailto: unsubscribes and plain-text bounces ----------------------------------------------


def _mailto_unsubscribe(message: Message, raw: bytes, tokens: list[str]) -> ParsedReport:
    """A message to unsubscribe+{token}@BOUNCE_DOMAIN, as List-Unsubscribe's mailto: sends it.
    The token is the authority, as on the unsubscribe page; an invalid one is recorded as
    unmatched. Recorded as a one-click unsubscribe (FeedbackSource has no mailto value)."""
    data = None
    for token in tokens:
        try:
            data = unpack(token, kind=TokenKind.UNSUBSCRIBE)
            break
        except BadToken:
            continue
    sender = _address(parseaddr(_header(message, "From"))[1])
    unsubscribe = Feedback(
        source=FeedbackSource.ONE_CLICK,
        # Apart from the ids the unsubscribe page records under the same source.
        event_id=_event_id("mailto:" + _report_id(message, raw)),
        kind=FeedbackKind.UNSUBSCRIBED,
        token=data,
        occurred_at=_date(_header(message, "Date")),
        detail=f"mailto: unsubscribe sent by {sender or 'an unknown sender'}",
    )
    return ParsedReport(MAILTO_UNSUBSCRIBE, (unsubscribe,))


def _plain_bounce(message: Message, raw: bytes, parts: list[Message]) -> ParsedReport:
    """A bounce that is not a DSN: sent to our VERP address, with an SMTP status in its text.
    A reply code with an enhanced status ("550 5.1.1") is enough; an enhanced status alone
    or a bare reply code ("550 ...") only from a bounce-like sender or subject, so that an
    auto-reply to the return path is not taken for a bounce. Hard by status_is_hard_bounce
    (the webhooks' rule), anything else soft."""
    refs = _matches(_VERP, _envelope_addresses(message))
    if not refs:
        return ParsedReport(NOT_A_REPORT, note="not a report and not sent to a bounce address")
    text = _plain_text(parts)
    bounce_like = _looks_like_bounce(message)
    code, line = "", ""
    if reply := _SMTP_REPLY.search(text):
        code, line = reply.group(2), _line_at(text, reply.start())
    elif bounce_like and (enhanced := _ENHANCED.search(text)) and enhanced.group(1)[0] != "2":
        code, line = enhanced.group(1), _line_at(text, enhanced.start())
    elif bounce_like and (basic := _BASIC_REPLY.search(text)):
        code, line = basic.group(1), _line_at(text, basic.start())
    if not code:
        return ParsedReport(NOT_A_REPORT, note="sent to a bounce address but no SMTP status")
    inline_refs = [next(g for g in m.groups() if g) for m in _TEXT_REF.finditer(text)]
    bounce = Feedback(
        source=FeedbackSource.DSN,
        event_id=_event_id(_report_id(message, raw)),
        kind=FeedbackKind.HARD_BOUNCE if status_is_hard_bounce(code) else FeedbackKind.SOFT_BOUNCE,
        message_ref=_pick_ref([*refs, *inline_refs]),
        occurred_at=_date(_header(message, "Date")),
        code=code,
        detail=line,
    )
    return ParsedReport(PLAIN_BOUNCE, (bounce,))


def _looks_like_bounce(message: Message) -> bool:
    local_part = parseaddr(_header(message, "From"))[1].split("@", 1)[0].lower()
    return (
        local_part in _BOUNCE_SENDERS
        or _header(message, "Return-Path").replace(" ", "") == "<>"
        or bool(_BOUNCE_SUBJECT.search(_header(message, "Subject")))
    )


def _line_at(text: str, index: int) -> str:
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    return _clean(text[start : end if end != -1 else len(text)], limit=300)


# --- MIME helpers -----------------------------------------------------------------------------


def _parts(message: Message) -> Iterator[Message]:
    """The message and its parts, not descending into attached messages (a returned original
    is looked at on its own, never taken for the report) and at most _MAX_PARTS of them."""
    stack, seen = [message], 0
    while stack and seen < _MAX_PARTS:
        part = stack.pop(0)
        seen += 1
        yield part
        if part.get_content_maintype() == "multipart":
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(p for p in payload if isinstance(p, Message))


def _param(message: Message, name: str) -> str:
    value = message.get_param(name, header="content-type")
    if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
        value = value[2]
    return str(value or "").strip().lower()


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except (TypeError, ValueError):
        return ""
    return _clean(str(value)) if value is not None else ""


def _headers(message: Message, name: str) -> list[str]:
    try:
        values = message.get_all(name) or []
    except (TypeError, ValueError):
        return []
    return [_clean(str(value)) for value in values[:20]]


def _clean(value: str, *, limit: int = _MAX_FIELD) -> str:
    """One line, no control characters, at most `limit` characters."""
    return re.sub(r"[\s\x00-\x1f\x7f]+", " ", value).strip()[:limit]


def _part_bytes(part: Message) -> bytes:
    """The decoded body of a leaf part, or of a message/* part the parser split into header
    blocks (joined back), or that was transfer-encoded (decoded here)."""
    payload = part.get_payload()
    encoding = _header(part, "Content-Transfer-Encoding").lower()
    if not isinstance(payload, list):
        try:
            return part.get_payload(decode=True) or b""
        except (ValueError, binascii.Error, LookupError):
            return b""
    if len(payload) == 1 and not payload[0].keys() and encoding in ("base64", "quoted-printable"):
        # An encoded message/* part: the parser took its encoded text for a header-less body.
        encoded = payload[0].get_payload()
        if not isinstance(encoded, str):
            return b""
        data = encoded.encode("ascii", errors="ignore")
        try:
            return base64.b64decode(data) if encoding == "base64" else quopri.decodestring(data)
        except (ValueError, binascii.Error):
            return b""
    blocks = []
    for block in payload[:_MAX_BLOCKS]:
        if isinstance(block, Message):
            blocks.append("\n".join(f"{name}: {value}" for name, value in block.items()))
    return "\n\n".join(blocks).encode("utf-8", errors="replace")


def _field_blocks(part: Message) -> list[dict[str, str]]:
    """The header-style field blocks of a delivery-status or feedback-report part, each a dict
    of lower-cased field name to its first value."""
    text = _part_bytes(part).decode("utf-8", errors="replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    blocks = []
    for chunk in re.split(r"\n[ \t]*\n", text)[:_MAX_BLOCKS]:
        fields: dict[str, str] = {}
        for name, value in HeaderParser(policy=compat32).parsestr(chunk).items():
            fields.setdefault(name.strip().lower(), _clean(str(value)))
        if fields:
            blocks.append(fields)
    return blocks


def _original_headers(parts: list[Message]) -> Message | None:
    """The headers of the message a report is about (message/rfc822 or text/rfc822-headers)."""
    for part in parts:
        content_type = part.get_content_type()
        if content_type in _ORIGINAL_MESSAGE_PARTS:
            payload = part.get_payload()
            if isinstance(payload, list) and payload and payload[0].keys():
                return payload[0]
            data = _part_bytes(part)
            if data:
                return message_from_bytes(data[:_MAX_TEXT_SCAN], policy=compat32)
        elif content_type in _ORIGINAL_HEADER_PARTS:
            text = _part_bytes(part)[:_MAX_TEXT_SCAN].decode("utf-8", errors="replace")
            return HeaderParser(policy=compat32).parsestr(text.lstrip())
    return None


def _original_refs(original: Message | None) -> list[str]:
    if original is None:
        return []
    return [
        *[value.strip("<> ") for value in _headers(original, "X-Message-Ref")],
        *_matches(_MESSAGE_ID_REF, _headers(original, "Message-ID")),
        *_matches(_VERP, _headers(original, "Return-Path")),
    ]


def _plain_text(parts: list[Message]) -> str:
    """The text/plain parts (a non-RFC bounce's explanation), up to _MAX_TEXT_SCAN characters."""
    chunks, size = [], 0
    for part in parts:
        if part.get_content_type() != "text/plain" or size >= _MAX_TEXT_SCAN:
            continue
        charset = part.get_content_charset() or "utf-8"
        data = _part_bytes(part)[: _MAX_TEXT_SCAN - size]
        try:
            text = data.decode(charset, errors="replace")
        except LookupError:
            text = data.decode("latin-1")
        chunks.append(text)
        size += len(data)
    return "\n".join(chunks).replace("\r\n", "\n")


def _envelope_addresses(message: Message) -> list[str]:
    return [value for name in _ENVELOPE_HEADERS for value in _headers(message, name)]


def _matches(pattern: re.Pattern, values: Iterable[str]) -> list[str]:
    return [match.group(1) for value in values for match in pattern.finditer(value)]


def _pick_ref(candidates: list[str]) -> str:
    """The first candidate that is one of our signed references; failing that, the first
    candidate (feedback_apply then records the report as unmatched)."""
    for candidate in candidates:
        if message_ref_data(candidate) is not None:
            return candidate
    return candidates[0] if candidates else ""


def _report_id(message: Message, raw: bytes) -> str:
    """The report's Message-ID, or a digest of the whole report when it has none."""
    message_id = _header(message, "Message-ID")
    if message_id:
        return message_id
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _event_id(value: str) -> str:
    if len(value) <= _EVENT_ID_MAX:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", errors="replace")).hexdigest()


def _status_code(value: str) -> str:
    match = _ENHANCED.search(value)
    return match.group(1) if match else ""


def _address(value: str) -> str:
    """The address in a report field ("rfc822; ann@example.org", "<ann@example.org>")."""
    if ";" in value:
        value = value.split(";", 1)[1]
    match = _ADDRESS.search(value.strip())
    return match.group(0)[:254] if match else ""


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed if parsed.year >= 2000 else None


def describe_feedback(feedback: Feedback) -> str:
    """One line for an operator: what a report says and which message it names."""
    data: TokenData | None = feedback.token or (
        message_ref_data(feedback.message_ref) if feedback.message_ref else None
    )
    target = (
        f"campaign {data.campaign_id} subscriber {data.subscriber_id}"
        + (" (test message)" if data.is_test else "")
        if data is not None
        else "no message of ours"
    )
    fields = [f"{feedback.kind} via {feedback.source}", target]
    if feedback.recipient:
        fields.append(f"recipient {feedback.recipient}")
    if feedback.code:
        fields.append(f"code {feedback.code}")
    fields.append(f"event {feedback.event_id}")
    return ", ".join(fields)
