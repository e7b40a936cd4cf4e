"""Text the service writes for a later reader is stored as a code and parameters, and rendered in
the reader's language when it is read.

An analyser finding, a verdict or health reason, an import row's reason, a DNS finding, a system
audit reason or a notification is read later, by someone whose language is not the writer's: a
moderator reading Russian, a sender reading English. Stored as a sentence, it stays in the
language of whoever (or whatever request) wrote it. Stored as `{"code": ..., "params": {...}}`,
it is rendered by `render` at read time, in the active language.

Each app declares its texts once, in its own `texts.py`, with `define`; the strings are marked with
`gettext_noop` so `makemessages` finds them and they are translated in the app's catalogue part:

    from django.utils.translation import gettext_noop
    from config.coded_text import define

    define("lists.import.duplicate_row", gettext_noop("Duplicate of row %(row)s."))
    define("x.bounces", gettext_noop("%(count)s bounce"), gettext_noop("%(count)s bounces"))

(by that name: makemessages knows `gettext_noop`, not an alias such as `N_`). It extracts the two
forms of a plural as two entries, so a part translates each, and also the pair as one plural
entry (msgid and msgid_plural), which is what `ngettext` reads (see campaigns.po's
"%(n)s message"). A text is then written as `coded("lists.import.duplicate_row", row=2)`.

Parameters are JSON-safe values (str, int, float, bool, None, a list of them, or another coded
text, which is rendered in the same language); floats are shown with the reader's decimal
separator, a rate written with `percent(0.0044)` as config.numbers.percent shows it ("0.44%",
"0,44%"), a count written with `number(1000)` with the reader's grouping ("1,000"). A two-form
text is chosen with `ngettext` on the `count` parameter.

Text stored before codes existed is a plain string: `render` returns it unchanged, so old rows
still read.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, TypedDict

from django.utils import formats, translation
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext, ngettext

from config import numbers

logger = logging.getLogger(__name__)

_TEXTS: dict[str, tuple[str, str | None]] = {}
_discovered = False


_discovering = threading.RLock()
_in_discovery = False


def _discover() -> None:
    """Import every installed app's `texts` module once, so a code is known wherever it is read,
    whatever imported what first. Done once is marked only when every module is imported: in a
    threaded worker (Celery's thread pool, granian's threads) a second thread asking meanwhile
    waits for it instead of finding a code missing (a probe's start failed on a KeyError beside
    a notification e-mail's task). A `texts` module reading a code while it is imported is
    answered from what is defined so far, as before."""
    global _discovered, _in_discovery
    if _discovered:
        return
    with _discovering:
        if _discovered or _in_discovery:
            return
        _in_discovery = True
        try:
            autodiscover_modules("texts")
        finally:
            _in_discovery = False
        _discovered = True


class CodedText(TypedDict):
    code: str
    params: dict[str, Any]


def define(code: str, text: str, plural: str | None = None) -> None:
    """Declare the text behind `code` (and its plural, chosen by the `count` parameter). Defining
    one code twice with another text is a programming error: two meanings for one stored code."""
    existing = _TEXTS.get(code)
    if existing is not None and existing != (text, plural):
        raise ValueError(f"coded text {code!r} is already defined with another text")
    _TEXTS[code] = (text, plural)


def is_defined(code: str) -> bool:
    _discover()
    return code in _TEXTS


def defined_codes() -> list[str]:
    """Every declared code (for tests that render each one in every language)."""
    _discover()
    return sorted(_TEXTS)


def _check_param(name: str, value: Any) -> None:
    if value is None or isinstance(value, str | int | float | bool):
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_param(name, item)
        return
    if isinstance(value, dict) and ("code" in value or "percent" in value or "number" in value):
        return
    raise TypeError(f"coded text parameter {name!r} is not JSON-safe: {type(value).__name__}")


def percent(fraction: float) -> dict[str, float]:
    """A rate as a parameter, shown as a percentage in the reader's language when rendered."""
    return {"percent": float(fraction)}


def number(value: int) -> dict[str, int]:
    """A count as a parameter, shown with the reader's digit grouping when rendered."""
    return {"number": int(value)}


def coded(code: str, **params: Any) -> CodedText:
    """The stored form of the text declared under `code`, with `params`. Raises KeyError for a
    code nobody declared, so a typo fails where it is written, not when someone reads it."""
    _discover()
    if code not in _TEXTS:
        raise KeyError(f"coded text {code!r} is not defined (see config.coded_text.define)")
    for name, value in params.items():
        _check_param(name, value)
    return {"code": code, "params": dict(params)}


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return formats.number_format(round(value, 2), use_l10n=True)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict) and "percent" in value:
        return numbers.percent(value["percent"])
    if isinstance(value, dict) and "number" in value:
        return formats.number_format(value["number"], use_l10n=True, force_grouping=True)
    if isinstance(value, dict):
        return render(value)  # a coded text inside a coded text
    if isinstance(value, list | tuple):
        # A list of coded texts is sentences (a health check's reasons); anything else a list.
        if value and all(isinstance(item, dict) for item in value):
            return " ".join(_show(item) for item in value)
        return ", ".join(_show(item) for item in value)
    return str(value)


def render(value: CodedText | dict | str | None) -> str:
    """`value` in the active language: a coded text rendered, a plain string (stored before codes
    existed, or typed by a person) unchanged, None as "". An unknown code is shown as the code
    and logged, never raised: a reader's page does not break over one old row."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    _discover()
    code = value.get("code", "")
    params = value.get("params") or {}
    text = _TEXTS.get(code)
    if text is None:
        logger.warning("coded text %r is not defined; shown as its code", code)
        return str(code)
    singular, plural = text
    if plural is None:
        template = gettext(singular)
    else:
        template = ngettext(singular, plural, int(params.get("count", 0) or 0))
    shown = _Shown({name: _show(param) for name, param in params.items()})
    try:
        return template % shown
    except (ValueError, TypeError):
        logger.warning("coded text %r does not fit its parameters %r", code, sorted(params))
        return gettext(singular).replace("%%", "%")


def render_all(value: CodedText | list | dict | str | None, separator: str = " ") -> str:
    """`render` of one stored text, or of a list of them joined (sentences, by default)."""
    if isinstance(value, list | tuple):
        return separator.join(render(item) for item in value)
    return render(value)


def in_english(value: CodedText | list | dict | str | None) -> str:
    """The text as an English reader sees it: the copy kept beside a code for logs, webhooks and
    readers that take text (a moderator's search, an old API field)."""
    with translation.override("en"):
        return render_all(value)


class _Shown(dict):
    """The rendered parameters; a parameter the text names but the row lacks (written before the
    text gained it) shows as an ellipsis rather than as "%(name)s"."""

    def __missing__(self, name: str) -> str:
        return "…"
