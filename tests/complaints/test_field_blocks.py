"""The field blocks of delivery-status and feedback-report parts are read from the blocks the
parser already made (issue 19), and must read exactly what the text reading they replace read:
that reading (turn the blocks back into text, cut it at blank lines, parse each chunk as
headers) is kept here as the reference, and both are compared on every such part of every
message we hold and on generated hostile parts."""

import re
from email import message_from_bytes
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from complaints import feedback_reports
from complaints.feedback_reports import (
    _MAX_BLOCKS,
    _blocks_as_dicts,
    _clean,
    _field_items,
    _part_bytes,
    _parts,
    _values_of,
)
from tests.complaints.parse_snapshot import messages

REPORT_PARTS = ("message/delivery-status", "message/global-delivery-status")
REPORT_PARTS += ("message/feedback-report",)


def reference_field_blocks(part: Message) -> list[dict[str, str]]:
    """_field_blocks as it was: the part's text re-parsed block by block."""
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


def reference_field_values(part: Message, name: str) -> list[str]:
    """_field_values as it was."""
    text = _part_bytes(part).decode("utf-8", errors="replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    values = []
    for chunk in re.split(r"\n[ \t]*\n", text)[:_MAX_BLOCKS]:
        found = HeaderParser(policy=compat32).parsestr(chunk).get_all(name) or []
        values += [_clean(str(value)) for value in found]
    return values[:_MAX_BLOCKS]


def assert_reads_as_before(part: Message) -> None:
    blocks = _field_items(part)
    assert _blocks_as_dicts(blocks) == reference_field_blocks(part)
    for name in ("original-rcpt-to", "final-recipient", "status", "x-junk"):
        assert _values_of(blocks, name) == reference_field_values(part, name)


def report_parts(raw: bytes) -> list[Message]:
    message = message_from_bytes(raw, policy=compat32)
    return [part for part, content_type in _parts(message) if content_type in REPORT_PARTS]


def test_every_report_part_we_hold_reads_as_before():
    parts = [part for _, raw in messages() for part in report_parts(raw)]

    assert len(parts) > 100
    for part in parts:
        assert_reads_as_before(part)


def test_the_blocks_are_read_without_parsing_the_text_again(monkeypatch):
    (part,) = report_parts(dict(messages())["data/dsn_postfix_hard"])
    # The text reading is kept only for the parts it reads differently (blank lines, encoded).
    monkeypatch.setattr(feedback_reports, "_field_items_from_text", None)

    blocks = _blocks_as_dicts(_field_items(part))

    assert [block.get("status") for block in blocks] == [None, "5.1.1"]


_NAMES = st.sampled_from(
    [b"Final-Recipient", b"Original-Rcpt-To", b"Status", b"Action", b"X-Junk", b"status", b"A"]
)
_TEXT = st.binary(max_size=12).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
_LINE_END = st.sampled_from([b"\r\n", b"\n", b"\r"])
_LINES = st.one_of(
    # A field, folded or not, with any bytes (8-bit, controls) in its value.
    st.tuples(
        _NAMES,
        st.sampled_from([b": ", b":", b" : "]),
        _TEXT,
        st.lists(st.tuples(st.sampled_from([b" ", b"\t", b"  "]), _TEXT), max_size=2),
    ).map(lambda t: t[0] + t[1] + t[2] + b"".join(b"\r\n" + ws + text for ws, text in t[3])),
    st.sampled_from([b"", b" ", b"\t", b"not a field", b": nameless", b"From x", b" cont"]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content_type=st.sampled_from([b"message/delivery-status", b"message/feedback-report"]),
    lines=st.lists(st.tuples(_LINES, _LINE_END), min_size=1, max_size=12),
)
def test_generated_report_parts_read_as_before(content_type, lines):
    body = b"".join(line + end for line, end in lines)
    raw = (
        b"Content-Type: multipart/report; boundary=XX\r\n\r\n--XX\r\n"
        b"Content-Type: text/plain\r\n\r\nwords\r\n--XX\r\nContent-Type: "
        + content_type
        + b"\r\n\r\n"
        + body
        + b"\r\n--XX--\r\n"
    )
    for part in report_parts(raw):
        assert_reads_as_before(part)
