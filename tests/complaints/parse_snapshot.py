"""What `parse_report` reads from every message we hold (the labelled corpora in
tests/fixtures/bounces, the report templates in tests/complaints/data, and hostile variants of
those templates), field by field, as recorded in data/parse_snapshot.json before the parser was
made faster (issue 19): tests/complaints/test_parse_snapshot.py holds the parser to it, so a
faster path that reads anything differently fails.

Regenerate only when a change of what is read is intended (and say so in the commit):

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python -m tests.complaints.parse_snapshot
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

SNAPSHOT = Path(__file__).parent / "data" / "parse_snapshot.json"
RECIPIENT = "ann.lee@example.org"
_CORPORA = ("flufl", "bounce_email")
_STATUS_BODY = re.compile(
    rb"(Content-Type: message/(?:delivery-status|feedback-report)\r\n)\r\n(.*?)(\r\n--)", re.S
)


def _tokens():
    from campaigns.tokens import MessageTokens

    return MessageTokens(campaign_id=7, subscriber_id=9)


def _variants(name: str, raw: bytes) -> Iterator[tuple[str, bytes]]:
    """Hostile and unusual forms of one template: what a parser shortcut could read
    differently."""
    yield f"{name}", raw
    yield f"{name}~lf", raw.replace(b"\r\n", b"\n")
    yield f"{name}~cr", raw.replace(b"\r\n", b"\r")
    # 8-bit bytes (UTF-8 and not) in the report fields and headers.
    eight_bit = re.sub(
        rb"(\r\n(?:Remote-MTA|Reported-Domain|Subject): )",
        lambda m: m.group(1) + b"\xc3\xa9\xff ",
        raw,
    )
    yield f"{name}~8bit", eight_bit
    # A whitespace-only continuation line in a field (a blank line to a text re-parse).
    yield f"{name}~blank-fold", re.sub(rb"(\r\n(?:Action|User-Agent): )", rb"\r\n \1", raw)
    # A field folded right after its colon.
    yield (
        f"{name}~folds",
        re.sub(
            rb"\r\n(Status|Feedback-Type|Original-Rcpt-To|Final-Recipient): ",
            rb"\r\n\1:\r\n\t",
            raw,
        ),
    )
    # A field repeated with another value (the first one counts).
    yield (
        f"{name}~repeat",
        re.sub(rb"(\r\n(Status|Feedback-Type|Action): [^\r]*)", rb"\1\r\n\2: 4.4.7 not-spam", raw),
    )
    # A line in a field block that is no field; empty blocks; an unfolded colon-less line.
    yield f"{name}~junk", re.sub(rb"(\r\nAction: [^\r]*)", rb"\1\r\nnot a field\r\n", raw)
    yield (
        f"{name}~empty-blocks",
        re.sub(rb"(\r\n(?:Final-Recipient|Feedback-Type): )", rb"\r\n\r\n\r\n\1", raw),
    )
    yield f"{name}~colon-first", re.sub(rb"(\r\nAction: )", rb"\r\n: nameless\1", raw)
    # The report part transfer-encoded.
    encoded = _STATUS_BODY.sub(
        lambda m: (
            b"Content-Transfer-Encoding: base64\r\n"
            + m.group(1)
            + b"\r\n"
            + base64.encodebytes(m.group(2)).replace(b"\n", b"\r\n")
            + m.group(3)[2:]
        ),
        raw,
    )
    if encoded != raw:
        yield f"{name}~base64", encoded
    yield f"{name}~truncated", raw[: len(raw) * 2 // 3]
    yield f"{name}~headers-only", raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"


def messages() -> Iterator[tuple[str, bytes]]:
    """(name, raw) of every message the snapshot covers, in a fixed order."""
    from tests.complaints.bounce_corpora import FIXTURES, as_received
    from tests.complaints.data import DATA, render

    tokens = _tokens()
    for path in sorted(DATA.glob("*.eml")):
        raw = render(path.stem, tokens=tokens, recipient=RECIPIENT)
        yield from _variants(f"data/{path.stem}", raw)
    ref = tokens.message_ref()
    for corpus in _CORPORA:
        for path in sorted((FIXTURES / corpus).iterdir()):
            if path.name == "LICENSE":
                continue
            yield f"{corpus}/{path.name}", as_received(path.read_bytes(), ref)


def read(raw: bytes) -> dict:
    """What parse_report makes of `raw`, as JSON-able values, our signed tokens written as
    placeholders (they depend on SECRET_KEY)."""
    from complaints.feedback_reports import parse_report

    try:
        report = parse_report(raw)
    except Exception as exc:  # what it raises is part of what it reads
        found: dict = {"raises": f"{type(exc).__name__}: {exc}"}
    else:
        found = {
            "type": report.type,
            "note": report.note,
            "feedback": [
                {
                    "source": str(f.source),
                    "event_id": f.event_id,
                    "kind": str(f.kind),
                    "message_ref": f.message_ref,
                    "recipient": f.recipient,
                    "occurred_at": f.occurred_at.isoformat() if f.occurred_at else None,
                    "code": f.code,
                    "detail": f.detail,
                    "token": repr(f.token) if f.token else None,
                }
                for f in report.feedback
            ],
        }
    text = json.dumps(found, ensure_ascii=True)
    tokens = _tokens()
    text = text.replace(tokens.message_ref(), "@@REF@@").replace(
        tokens.unsubscribe(), "@@UNSUBSCRIBE_TOKEN@@"
    )
    return json.loads(text)


def snapshot() -> dict[str, dict]:
    return {name: read(raw) for name, raw in messages()}


if __name__ == "__main__":
    # Run as a script: Django first (the parser's imports need the app registry).
    import django

    django.setup()
    found = snapshot()
    SNAPSHOT.write_text(json.dumps(found, indent=1, sort_keys=True, ensure_ascii=True) + "\n")
    print(f"{len(found)} messages written to {SNAPSHOT}")
