"""Measuring the bounce readers against public labelled corpora (tests/fixtures/bounces): each
message is given our VERP address (as our bounce mailbox receives it) and read by
parse_report; its hard/soft/blocked/none call is compared with labels.csv and the addresses it
names with addresses.csv (flufl.bounce's and bounced's own labels)."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from campaigns.tokens import MessageTokens
from complaints.feedback_reports import UnparsableReport, parse_report

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bounces"
_CLASSES = {
    "hard_bounce": "hard",
    "soft_bounce": "soft",
    "blocked": "blocked",
}


@dataclass
class Figures:
    messages: int = 0
    judged: int = 0  # labelled hard, soft, blocked or none (not "unknown")
    agreed: int = 0
    soft: int = 0
    soft_as_hard: int = 0
    unknown: int = 0
    unknown_as_hard: int = 0
    addresses: int = 0
    addresses_found: int = 0
    reported: int = 0
    reported_labelled: int = 0
    confusion: Counter = field(default_factory=Counter)
    disagreements: list = field(default_factory=list)
    missed: list = field(default_factory=list)

    def line(self, name: str) -> str:
        def pct(part, whole):
            return f"{100 * part / whole:.1f}%" if whole else "n/a"

        return (
            f"{name}: {self.messages} messages; class agreement {self.agreed}/{self.judged} "
            f"({pct(self.agreed, self.judged)}); soft bounces read as hard "
            f"{self.soft_as_hard}/{self.soft} ({pct(self.soft_as_hard, self.soft)}); "
            f"no-reason bounces read as hard {self.unknown_as_hard}/{self.unknown}; "
            f"address recall {self.addresses_found}/{self.addresses} "
            f"({pct(self.addresses_found, self.addresses)}); address precision "
            f"{self.reported_labelled}/{self.reported} "
            f"({pct(self.reported_labelled, self.reported)})"
        )


def read_labels() -> tuple[dict, dict]:
    with (FIXTURES / "labels.csv").open() as handle:
        classes = {(row["corpus"], row["file"]): row["label"] for row in csv.DictReader(handle)}
    addresses: dict = {}
    with (FIXTURES / "addresses.csv").open() as handle:
        for row in csv.DictReader(handle):
            found = addresses.setdefault((row["corpus"], row["file"]), set())
            if row["address"]:
                found.add(row["address"].lower())
    return classes, addresses


def as_received(raw: bytes, ref: str) -> bytes:
    """The message as our bounce mailbox gets it: the MTA adds the envelope recipient."""
    return f"X-Original-To: bounce+{ref}@bounces.example\r\n".encode() + raw


def read_one(raw: bytes) -> tuple[str, set[str]]:
    """The message's class (the kind of its first failure, "none" without one) and the
    addresses its reports name."""
    try:
        report = parse_report(raw)
    except UnparsableReport:
        return "none", set()
    kinds = [_CLASSES[f.kind] for f in report.feedback if f.kind in _CLASSES]
    recipients = {f.recipient.lower() for f in report.feedback if f.recipient}
    return (kinds[0] if kinds else "none"), recipients


def measure(corpus: str) -> Figures:
    classes, addresses = read_labels()
    ref = MessageTokens(campaign_id=7, subscriber_id=9).message_ref()
    figures = Figures()
    for (name, file), label in sorted(classes.items()):
        if name != corpus:
            continue
        raw = (FIXTURES / corpus / file).read_bytes()
        got, recipients = read_one(as_received(raw, ref))
        figures.messages += 1
        if label == "unknown":
            figures.unknown += 1
            figures.unknown_as_hard += got == "hard"
        else:
            figures.judged += 1
            figures.agreed += got == label
            figures.confusion[(label, got)] += 1
            if got != label:
                figures.disagreements.append(f"{file}: labelled {label}, read {got}")
        if label == "soft":
            figures.soft += 1
            figures.soft_as_hard += got == "hard"
        expected = addresses.get((corpus, file))
        if expected is not None:
            figures.addresses += len(expected)
            figures.addresses_found += len(expected & recipients)
            figures.reported += len(recipients)
            figures.reported_labelled += len(recipients & expected)
            if expected - recipients:
                figures.missed.append(
                    f"{file}: {sorted(expected - recipients)} got {sorted(recipients)}"
                )
    return figures
