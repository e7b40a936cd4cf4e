"""The starter templates every account can start from: hand-written, table-based layouts kept
as files in campaigns/starters/ (its _README.md says what each keeps to), each with one region
the visual editor edits."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

STARTER_DIR = Path(__file__).resolve().parent / "starters"
# The visual editor edits what lies between these two comments (static/js/template-editor.js
# uses the same markers); the rest of the layout is edited in the HTML source.
CONTENT_START = "<!-- content:start -->"
CONTENT_END = "<!-- content:end -->"


@dataclass(frozen=True)
class Starter:
    key: str
    name: Promise
    description: Promise
    subject: Promise

    @property
    def html_body(self) -> str:
        return starter_html(self.key)


STARTERS: tuple[Starter, ...] = (
    Starter(
        "newsletter",
        gettext_lazy("Plain newsletter"),
        gettext_lazy("A heading and paragraphs on a white card: news, updates, a monthly letter."),
        gettext_lazy("Our news this month"),
    ),
    Starter(
        "announcement",
        gettext_lazy("Announcement"),
        gettext_lazy(
            "A coloured band and one message in large type: a launch, a change, an event."
        ),
        gettext_lazy("An announcement from us"),
    ),
    Starter(
        "digest",
        gettext_lazy("Digest"),
        gettext_lazy("Several short stories with links, separated by rules, and a list in brief."),
        gettext_lazy("This week in brief"),
    ),
    Starter(
        "promotion",
        gettext_lazy("Product promotion"),
        gettext_lazy("A large headline, a few words and a button to the offer."),
        gettext_lazy("An offer for you"),
    ),
)
_BY_KEY = {starter.key: starter for starter in STARTERS}


def starter_get(key: str) -> Starter | None:
    """The starter called `key`, or None."""
    return _BY_KEY.get(key)


@lru_cache(maxsize=len(STARTERS))
def starter_html(key: str) -> str:
    """The starter's HTML as stored in the repository (read once per process)."""
    if key not in _BY_KEY:
        raise KeyError(key)
    return (STARTER_DIR / f"{key}.html").read_text(encoding="utf-8")
