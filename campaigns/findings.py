"""What the content analyser reports, as types the campaign can read: `Severity` and `Finding`.

The analyser itself is moderation's (moderation.analyser, named in settings.CONTENT_ANALYSER
because campaigns does not import moderation); these types sit here, below it, so that the
campaign's submission check compares with `Severity.BLOCK` rather than a copy of its string.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from config.coded_text import CodedText, render


class Severity(StrEnum):
    BLOCK = "block"
    REVIEW = "review"
    INFO = "info"


# Most severe first: the order findings are listed in.
SEVERITY_RANK = {Severity.BLOCK: 0, Severity.REVIEW: 1, Severity.INFO: 2}


@dataclass(frozen=True, eq=False)
class Finding:
    """One thing the analyser noticed, with a reason the sender can read: `text` is stored as a
    code and parameters (config.coded_text, declared in moderation/texts.py), so the sender and
    the moderator each read it in their own language; `reason` is it in the active one."""

    code: str
    severity: Severity
    text: CodedText
    where: str = ""
    excerpt: str = ""

    @property
    def reason(self) -> str:
        return render(self.text)

    def _said(self) -> tuple:
        return (self.code, self.severity, self.reason, self.where, self.excerpt)

    # Two findings are the same when they say the same (in the active language), whether the
    # reason is held as a code or, as a test writes it, as text.
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Finding) and self._said() == other._said()

    def __hash__(self) -> int:
        return hash(self._said())

    def as_dict(self) -> dict:
        """The finding as JSON-safe data, as the campaign stores it: the severity as its string
        value, the reason as its code and parameters (`finding_shown` renders it)."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "reason": self.text,
            "where": self.where,
            "excerpt": self.excerpt,
        }
