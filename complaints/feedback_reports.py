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
import html
import quopri
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from email.utils import parseaddr, parsedate_to_datetime

from django.conf import settings

from campaigns.bounces import BounceVerdict, classify_bounce
from campaigns.tokens import BadToken, TokenData, TokenKind, unpack
from complaints.models import FeedbackKind, FeedbackSource
from complaints.services import Feedback, bounce_feedback_kind, message_ref_data

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
_BOUNCE_SENDERS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"}
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status )?notification|delivery fail|failure notice|returned mail|"
    r"mail delivery|non-?delivery|could not be delivered|delivery problem|rejected mail|"
    r"automatically rejected|user unknown",
    re.IGNORECASE,
)
_ADDRESS = re.compile(r"[^@\s<>;,\"()\[\]:]{1,64}@[^@\s<>;,\"()\[\]:']{1,255}")
_QUOTED_ADDRESS = re.compile(r'"(?:[^"\\\r\n]|\\.){1,64}"@[^@\s<>;,"()\[\]:]{1,255}')
# An address in free text: a dot-atom local part, or a quoted one.
_ADDRESS_IN_TEXT = re.compile(
    r'"(?:[^"\\\r\n]|\\.){1,64}"@[A-Za-z0-9.-]{1,255}'
    r"|(?<![A-Za-z0-9.!#$%&'*+/=?^_`{|}~-])[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)*"
    r"[A-Za-z0-9-]{1,63}"
)
_ADDRESS_TYPE = re.compile(r"\s*[A-Za-z0-9-]{1,20}\s*;")
_SOURCE_ROUTE = re.compile(r"(^|<)\s*@[^:<>\s\"]{1,255}:")
_COMPLAINT_TYPES = {"abuse", "fraud", "virus", "other"}
# RFC 6650 / the ARF registry: the recipient asked to be taken off (this list).
_OPT_OUT_TYPES = {"opt-out", "opt-out-list"}
_NOT_COMPLAINT_TYPES = {"not-spam", "auth-failure"}
_STATUS_PARTS = {"message/delivery-status", "message/global-delivery-status"}
_ORIGINAL_MESSAGE_PARTS = {"message/rfc822", "message/global"}
_ORIGINAL_HEADER_PARTS = {
    "text/rfc822-headers",
    "text/rfc822-header",  # singular, as some feedback loops send it
    "message/rfc822-headers",
    "message/rfc822-header",
    "message/global-headers",
}
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]+")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# Bounds on hostile input.
_MAX_PARTS = 100
_MAX_BLOCKS = 101
_MAX_FIELD = 1000
_MAX_TEXT_SCAN = 256 * 1024
_EVENT_ID_MAX = 200


# A part of a message and its content type.
_Part = tuple[Message, str]


class _Message(Message):
    """The standard library's Message (compat32) with its content type kept once read: its
    parser asks for it again and again of every part as it goes (about 30 times a report,
    each a scan of the headers and a split of the value), and so do we. Kept with the number
    of headers it was read from: adding a header (as the parser does, one at a time) makes it
    read again, and so does whatever else changes the headers or the default type. The value
    is the standard library's own."""

    _content_type: tuple[int, str] | None = None

    def get_content_type(self) -> str:
        known = self._content_type
        if known is not None and known[0] == len(self):
            return known[1]
        value = super().get_content_type()
        self._content_type = (len(self), value)
        return value

    def set_default_type(self, ctype: str) -> None:
        self._content_type = None
        super().set_default_type(ctype)

    def __delitem__(self, name) -> None:
        # A header deleted and another added keep the count: forgotten here.
        self._content_type = None
        super().__delitem__(name)

    def replace_header(self, _name, _value) -> None:
        self._content_type = None
        super().replace_header(_name, _value)


# The standard library's parsing policy for mail (compat32), making _Message objects.
_POLICY = compat32.clone(message_factory=_Message)


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
    message = message_from_bytes(raw, policy=_POLICY)
    if not message.keys():
        raise UnparsableReport("not a mail message: no headers")
    parts = list(_parts(message))
    types = {content_type for _, content_type in parts}
    top = parts[0][1]  # the message itself comes first
    report_type = _param(message, "report-type") if top == "multipart/report" else ""
    if (top == "multipart/report" and report_type == "delivery-status") or types & _STATUS_PARTS:
        return _dsn(message, raw, parts)
    if (
        top == "multipart/report" and report_type == "feedback-report"
    ) or "message/feedback-report" in types:
        return _arf(message, raw, parts)
    if top == "multipart/report":
        return _as_plain_bounce(
            message, raw, parts, f"a multipart/report of unknown type {report_type!r}"
        )
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


def _dsn(message: Message, raw: bytes, parts: list[_Part]) -> ParsedReport:
    status_part = next((p for p, content_type in parts if content_type in _STATUS_PARTS), None)
    if status_part is None:
        return _as_plain_bounce(
            message, raw, parts, "a delivery-status report without its delivery-status part"
        )
    blocks = _blocks_as_dicts(_field_items(status_part))
    recipients = [
        fields
        for fields in blocks
        if {"final-recipient", "original-recipient", "action", "status"} & fields.keys()
    ]
    if not recipients:
        return _as_plain_bounce(
            message, raw, parts, "a delivery-status report with no recipient fields"
        )
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
    explanation = ""
    for index, fields in enumerate(recipients):
        verdict = classify_bounce(
            status=fields.get("status", ""),
            diagnostic=fields.get("diagnostic-code", ""),
            action=fields.get("action", ""),
        )
        if not verdict.certain or verdict.reason.endswith("says too little"):
            # The fields say little (Status: 5.0.0, no Diagnostic-Code): the report's words
            # for people often say more ("550 5.1.1 User unknown").
            explanation = explanation or _explanation(_plain_text(parts))
            fuller = classify_bounce(
                status=fields.get("status", ""),
                diagnostic=fields.get("diagnostic-code", ""),
                text=explanation,
                action=fields.get("action", ""),
            )
            verdict = fuller if fuller.certain else verdict
        kind = _dsn_kind(fields.get("action", ""), verdict)
        if kind is None:
            continue
        # The address as we sent it, before any forwarding the final MTA saw.
        final = _address(fields.get("final-recipient", ""))
        recipient = _address(fields.get("original-recipient", "")) or final
        feedback.append(
            Feedback(
                source=FeedbackSource.DSN,
                # Each block's own (final) address keeps the blocks apart.
                event_id=_event_id(f"{report_id}:{(final or recipient).lower() or f'#{index}'}"),
                kind=kind,
                message_ref=ref,
                recipient=recipient,
                occurred_at=_date(fields.get("last-attempt-date", ""))
                or _date(per_message.get("arrival-date", ""))
                or reported_at,
                code=verdict.code,
                detail=fields.get("diagnostic-code", "") or _describe_action(fields),
            )
        )
    note = "" if feedback else "no recipient failed or was delayed"
    return ParsedReport(DSN, tuple(feedback), note)


def _dsn_kind(action: str, verdict: BounceVerdict) -> FeedbackKind | None:
    """Delivered or relayed with no failing status: delivered. Otherwise what the classifier
    (campaigns.bounces) reads in the action, the status and the diagnostic: failed or delayed,
    a hard, soft or blocked bounce. "expanded" (to a mailing list) says nothing."""
    action = action.split(" ", 1)[0].strip().lower()
    if action in ("delivered", "relayed"):
        return FeedbackKind.DELIVERED if verdict.certain else None
    return bounce_feedback_kind(verdict)


def _describe_action(fields: dict[str, str]) -> str:
    return "; ".join(
        f"{name}: {fields[key]}"
        for name, key in (("Action", "action"), ("Remote-MTA", "remote-mta"))
        if fields.get(key)
    )


# --- ARF (RFC 5965) and JMRP ------------------------------------------------------------------


def _arf(message: Message, raw: bytes, parts: list[_Part]) -> ParsedReport:
    report_part = next(
        (p for p, content_type in parts if content_type == "message/feedback-report"), None
    )
    if report_part is None:
        raise UnparsableReport("a feedback report without its message/feedback-report part")
    report_fields = _field_items(report_part)
    fields: dict[str, str] = {}
    for block in _blocks_as_dicts(report_fields):
        fields = block | fields  # the first value of a field wins
    feedback_type = fields.get("feedback-type", "").split(" ", 1)[0].lower()
    if not feedback_type:
        raise UnparsableReport("a feedback report without Feedback-Type")
    if feedback_type in _NOT_COMPLAINT_TYPES:
        return ParsedReport(ARF, note=f"feedback type {feedback_type}: not a complaint")
    if feedback_type not in _COMPLAINT_TYPES | _OPT_OUT_TYPES:
        return ParsedReport(ARF, note=f"unknown feedback type {feedback_type[:40]}")
    kind = FeedbackKind.UNSUBSCRIBED if feedback_type in _OPT_OUT_TYPES else FeedbackKind.COMPLAINED
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
    # A report may name several recipients (RFC 5965: Original-Rcpt-To may repeat): one
    # report each, else one without a recipient.
    recipients = _unique(
        [_address(value) for value in _values_of(report_fields, "original-rcpt-to")]
    ) or [_address(fields.get("removal-recipient", ""))]
    report_id = _report_id(message, raw)
    occurred_at = (
        _date(fields.get("arrival-date", ""))
        or _date(fields.get("received-date", ""))
        or _date(_header(message, "Date"))
    )
    reports = tuple(
        Feedback(
            source=FeedbackSource.ARF,
            event_id=_event_id(
                report_id if len(recipients) == 1 else f"{report_id}:{recipient.lower()}"
            ),
            kind=kind,
            message_ref=ref,
            recipient=recipient,
            occurred_at=occurred_at,
            code=feedback_type,
            detail=detail,
        )
        for recipient in recipients
    )
    return ParsedReport(ARF, reports)


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


def _plain_bounce(message: Message, raw: bytes, parts: list[_Part]) -> ParsedReport:
    """A bounce that is not a DSN (qmail, Exchange, Yahoo and many others), sent to our VERP
    address, which says whose it is. A full SMTP reply ("550 5.1.1") is enough; an enhanced
    status alone, a bare reply code ("550 ...") or only words ("user unknown", "mailbox full")
    only from a bounce-like sender or subject, so that an auto-reply to the return path is not
    taken for a bounce. The failed addresses are read from the explanation (not the returned
    copy of our message), each classified by the words around it (campaigns.bounces, the rule
    of every path); a warning that delivery is still being tried is soft."""
    refs = _matches(_VERP, _envelope_addresses(message))
    if not refs:
        return ParsedReport(NOT_A_REPORT, note="not a report and not sent to a bounce address")
    text = _plain_text(parts)
    explanation = _explanation(text)
    bounce_like = _looks_like_bounce(message)
    reply = _SMTP_REPLY.search(explanation)
    if not reply and not bounce_like:
        return ParsedReport(NOT_A_REPORT, note="sent to a bounce address but no SMTP status")
    action = "delayed" if _WARNING.search(explanation) else "failed"
    whole = classify_bounce(text=explanation, action=action)
    if not whole.certain:
        return ParsedReport(NOT_A_REPORT, note="sent to a bounce address but no SMTP status")
    inline_refs = [next(g for g in m.groups() if g) for m in _TEXT_REF.finditer(text)]
    ref = _pick_ref([*refs, *inline_refs])
    report_id = _report_id(message, raw)
    occurred_at = _date(_header(message, "Date"))
    ours = {address.lower() for address in _addresses_in(" ".join(_header_addresses(message)))}
    failed = [
        (address, section)
        for address, section in _failed_addresses(explanation)
        if address.lower() not in ours and not _is_mail_system(address)
    ]
    if not failed:
        failed = [("", "")]
    feedback = []
    for address, section in failed:
        verdict = whole
        if section:
            own = classify_bounce(text=section, action=action)
            verdict = own if own.certain else whole
        kind = bounce_feedback_kind(verdict)
        if kind is None:
            continue
        feedback.append(
            Feedback(
                source=FeedbackSource.DSN,
                event_id=_event_id(
                    report_id if len(failed) == 1 else f"{report_id}:{address.lower()}"
                ),
                kind=kind,
                message_ref=ref,
                recipient=address,
                occurred_at=occurred_at,
                code=verdict.code,
                detail=_detail_line(section or explanation, verdict),
            )
        )
    if not feedback:
        return ParsedReport(NOT_A_REPORT, note="sent to a bounce address but no failure found")
    return ParsedReport(PLAIN_BOUNCE, tuple(feedback))


# Where a plain bounce's explanation ends and the returned copy of our message begins.
_ORIGINAL_STARTS = re.compile(
    r"^[ \t>]*(?:-+ ?)?(?:below this line is a copy|original message|"
    r"(?:this is a )?copy of (?:the |your )?(?:original )?message|returned message|"
    r"(?:the )?(?:original|returned|unsent) message (?:follows?|below|headers)|"
    r"(?:lines|part) of (?:your|the) (?:original )?message follow|"
    r"message headers follow|(?:the )?headers of (?:the|your) (?:original )?message|"
    r"original message header|unsent message below|"
    r"----- ?(?:transcript of session|message text) follows)"
    r"|^(?:Received|Return-Path|Message-ID|DKIM-Signature): ",
    re.IGNORECASE | re.MULTILINE,
)
# Delivery is still being tried: a warning, not a failure.
_WARNING = re.compile(
    r"has not yet been delivered|not (?:been )?delivered (?:yet|for \d)|"
    r"still (?:being )?tr(?:y|ied|ying)|will (?:continue|keep) (?:to try|trying)|"
    r"will (?:be )?retr(?:y|ied)|delivery attempts will continue|is (?:being )?delayed|"
    r"delivery (?:status notification )?\(?delay|delayed mail|warning: (?:could not|message)|"
    r"no action is required on your part|retry (?:timeout|time) not reached",
    re.IGNORECASE,
)
_HTML_BREAK = re.compile(r"<(?:br|/?p|/?div|/?tr|/?li)\b[^>]{0,200}>", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^>]{0,2000}>")
_PROTOCOL_PREFIX = re.compile(r"^(?:smtp|rfc822|mailto)[=:]", re.IGNORECASE)
_MAIL_SYSTEM_LOCAL_PARTS = _BOUNCE_SENDERS | {"root", "abuse", "noreply", "no-reply", "mailer"}


def _explanation(text: str) -> str:
    """The bounce's own words: the text before the returned copy of our message (the copy is
    kept for a message that is all copy)."""
    found = _ORIGINAL_STARTS.search(text)
    if found is None or found.start() < 40:
        return text[:_MAX_TEXT_SCAN]
    return text[: found.start()]


def _addresses_in(text: str) -> list[str]:
    return [
        _PROTOCOL_PREFIX.sub("", _address(match.group(0))).strip("'")
        for match in _ADDRESS_IN_TEXT.finditer(text)
    ]


def _header_addresses(message: Message) -> list[str]:
    """Who the bounce is from and to (the mail system, our return path): never the failed
    recipient."""
    names = ("From", "To", "Cc", "Reply-To", "Sender", "Return-Path", *_ENVELOPE_HEADERS)
    return [value for name in names for value in _headers(message, name)]


def _is_mail_system(address: str) -> bool:
    local_part = address.split("@", 1)[0].lower()
    return local_part in _MAIL_SYSTEM_LOCAL_PARTS or bool(_VERP.search(address + "@"))


def _failed_addresses(explanation: str) -> list[tuple[str, str]]:
    """The addresses a bounce's explanation names, each with the text from its line up to the
    next address's line (at most a few lines): the words about that address."""
    lines = explanation.split("\n")
    found: list[tuple[int, str]] = []
    seen: set[str] = set()
    for number, line in enumerate(lines[:2000]):
        for address in _addresses_in(line):
            if address and address.lower() not in seen:
                seen.add(address.lower())
                found.append((number, address))
    result = []
    for index, (number, address) in enumerate(found[:_MAX_BLOCKS]):
        following = found[index + 1][0] if index + 1 < len(found) else len(lines)
        end = min(max(following, number + 1), number + 6)
        section = "\n".join(lines[number:end])
        result.append((address, section))
    return result


def _detail_line(text: str, verdict: BounceVerdict) -> str:
    """The line the verdict's code is on, else the text's first line with words."""
    if verdict.code and verdict.code in text:
        return _line_at(text, text.index(verdict.code))
    for line in text.split("\n"):
        if line.strip():
            return _clean(line, limit=300)
    return ""


def _as_plain_bounce(message: Message, raw: bytes, parts: list[_Part], why: str) -> ParsedReport:
    """A report whose machine-readable part is missing or unreadable: read as a plain-text
    bounce (non-standard MTAs send such), else unparsable for `why`."""
    report = _plain_bounce(message, raw, parts)
    if not report.feedback:
        raise UnparsableReport(why)
    return report


def _looks_like_bounce(message: Message) -> bool:
    local_part = parseaddr(_header(message, "From"))[1].split("@", 1)[0].lower()
    return (
        local_part in _BOUNCE_SENDERS
        or _header(message, "Return-Path").replace(" ", "") == "<>"
        or bool(_BOUNCE_SUBJECT.search(_decoded_header(message, "Subject")))
    )


def _decoded_header(message: Message, name: str) -> str:
    """A header with its RFC 2047 encoded words decoded ("=?utf-8?B?...?=")."""
    value = _header(message, name)
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, ValueError, UnicodeDecodeError, HeaderParseError):
        return value


def _line_at(text: str, index: int) -> str:
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    return _clean(text[start : end if end != -1 else len(text)], limit=300)


# --- MIME helpers -----------------------------------------------------------------------------


def _parts(message: Message) -> Iterator[_Part]:
    """The message and its parts, each with its content type, not descending into attached
    messages (a returned original is looked at on its own, never taken for the report) and at
    most _MAX_PARTS of them."""
    stack, seen = [message], 0
    while stack and seen < _MAX_PARTS:
        part = stack.pop(0)
        seen += 1
        # Read once here: the standard library parses the Content-Type header on every call.
        content_type = part.get_content_type()
        yield part, content_type
        if content_type.split("/", 1)[0] == "multipart":
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
    return _SPACE_OR_CONTROL.sub(" ", value).strip()[:limit]


def _part_bytes(part: Message) -> bytes:
    """The decoded body of a leaf part, or of a message/* part the parser split into header
    blocks (joined back), or that was transfer-encoded (decoded here)."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        try:
            decoded = part.get_payload(decode=True)
            return decoded if isinstance(decoded, bytes) else b""
        except (ValueError, binascii.Error, LookupError):
            return b""
    encoding, first = _encoded_message(part, payload), payload[0] if payload else None
    if encoding and isinstance(first, Message):
        # An encoded message/* part: the parser took its encoded text for a header-less body.
        encoded = first.get_payload()
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


def _encoded_message(part: Message, payload: list) -> str:
    """The transfer encoding ("base64", "quoted-printable") of a message/* part whose encoded
    text the parser took for one header-less block; "" for any other part."""
    encoding = _header(part, "Content-Transfer-Encoding").lower()
    first = payload[0] if payload else None
    if (
        len(payload) == 1
        and isinstance(first, Message)
        and not first.keys()
        and encoding in ("base64", "quoted-printable")
    ):
        return encoding
    return ""


# A line of a field's value that is empty or blanks only ("\r\n" is one line end): the text
# reading (_field_items_from_text) splits a block there.
_BLANK_LINE_IN_VALUE = re.compile(r"(?>\r\n|\r|\n)[ \t]*+(?:[\r\n]|\Z)")


def _field_items(part: Message) -> list[list[tuple[str, str]]]:
    """The header-style field blocks of a delivery-status or feedback-report part, each the
    list of its (lower-cased field name, value on one line) in order; blocks without fields
    left out.

    Read from the blocks the parser already made of the part (message/delivery-status is
    parsed into one header block per recipient, message/feedback-report into one message).
    That reads what turning them back into text and parsing it again
    (_field_items_from_text) read, value for value, except where a value holds a blank line:
    such a part, and an encoded one, are read from the text as before."""
    payload = part.get_payload()
    if not isinstance(payload, list) or _encoded_message(part, payload):
        return _field_items_from_text(part)
    blocks = []
    for block in payload[:_MAX_BLOCKS]:
        if not isinstance(block, Message):
            continue
        fields = []
        for name, value in block.items():
            # 8-bit bytes come as a Header whose str() has U+FFFD for them, as the text had.
            text = str(value)
            if _BLANK_LINE_IN_VALUE.search(text):
                return _field_items_from_text(part)
            fields.append((name.lower(), _clean(text)))
        if fields:
            blocks.append(fields)
    return blocks


def _field_items_from_text(part: Message) -> list[list[tuple[str, str]]]:
    """_field_items read from the part's text: decoded, cut at blank lines, each block parsed
    as headers."""
    text = _part_bytes(part).decode("utf-8", errors="replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    blocks = []
    for chunk in _BLANK_LINE.split(text)[:_MAX_BLOCKS]:
        fields = [
            (name.strip().lower(), _clean(str(value)))
            for name, value in HeaderParser(policy=compat32).parsestr(chunk).items()
        ]
        if fields:
            blocks.append(fields)
    return blocks


def _blocks_as_dicts(blocks: list[list[tuple[str, str]]]) -> list[dict[str, str]]:
    """Each block of _field_items as a dict of field name to its first value."""
    result = []
    for fields in blocks:
        found: dict[str, str] = {}
        for name, value in fields:
            found.setdefault(name, value)
        result.append(found)
    return result


def _values_of(blocks: list[list[tuple[str, str]]], name: str) -> list[str]:
    """Every value of field `name` (lower case) in a report part's field blocks (a field may
    repeat)."""
    return [value for fields in blocks for field, value in fields if field == name][:_MAX_BLOCKS]


def _unique(addresses: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for address in addresses:
        if address and address.lower() not in seen:
            seen[address.lower()] = address
    return list(seen.values())


def _original_headers(parts: list[_Part]) -> Message | None:
    """The headers of the message a report is about (message/rfc822 or text/rfc822-headers)."""
    for part, content_type in parts:
        if content_type in _ORIGINAL_MESSAGE_PARTS:
            payload = part.get_payload()
            first = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(first, Message) and first.keys():
                return first
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


def _plain_text(parts: list[_Part]) -> str:
    """The text/plain parts (a non-RFC bounce's explanation), up to _MAX_TEXT_SCAN characters;
    the text/html ones, tags dropped, when there is no plain text (Exchange's, some webmails')."""
    kind = "text/plain"
    if not any(content_type == kind for _, content_type in parts):
        kind = "text/html"
    chunks, size = [], 0
    for part, content_type in parts:
        if content_type != kind or size >= _MAX_TEXT_SCAN:
            continue
        charset = part.get_content_charset() or "utf-8"
        data = _part_bytes(part)[: _MAX_TEXT_SCAN - size]
        try:
            text = data.decode(charset, errors="replace")
        except LookupError:
            text = data.decode("latin-1")
        if kind == "text/html":
            text = _HTML_BREAK.sub("\n", text)
            text = html.unescape(_HTML_TAG.sub("", text)).replace("\xa0", " ")
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


def _address(value: str) -> str:
    """The address in a report field ("rfc822; ann@example.org", "<ann@example.org>"), a
    source route dropped ("@a,@b:ann@example.org") and a quoted local part kept whole
    ('"ann lee"@example.org')."""
    if _ADDRESS_TYPE.match(value):
        value = value.split(";", 1)[1]
    value = _SOURCE_ROUTE.sub(r"\1", value.strip())
    match = _QUOTED_ADDRESS.search(value) or _ADDRESS.search(value)
    return match.group(0).rstrip(".")[:254] if match else ""


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
