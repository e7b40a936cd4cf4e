"""The author's HTML made safe for mail: CSS inlined (css-inline), sanitised (nh3), plus the
plain-text version generated from it when the author gives none."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import css_inline
import nh3

from config.errors import ApplicationError

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "address", "b", "big", "blockquote", "br", "caption", "center", "code",
        "col", "colgroup", "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4",
        "h5", "h6", "hr", "i", "img", "ins", "li", "ol", "p", "pre", "q", "s", "small", "span",
        "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
        "tt", "u", "ul",
    }
)  # fmt: skip
_TABLE_ATTRIBUTES = {"align", "bgcolor", "border", "cellpadding", "cellspacing", "valign"}
ALLOWED_ATTRIBUTES = {
    "*": {"style", "dir", "lang", "title", "align", "width", "height"},
    "a": {"href", "name", "target"},
    "img": {"src", "alt", "border"},
    "font": {"color", "face", "size"},
    "table": _TABLE_ATTRIBUTES,
    "td": _TABLE_ATTRIBUTES | {"colspan", "rowspan", "nowrap"},
    "th": _TABLE_ATTRIBUTES | {"colspan", "rowspan", "nowrap"},
    "tr": {"bgcolor", "valign"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "type"},
}
# What an author may style. Nothing that takes an element out of the flow (position, z-index,
# transforms) and so could be laid over the compliance footer.
ALLOWED_CSS = frozenset(
    {
        "background", "background-color", "border", "border-bottom", "border-collapse",
        "border-color", "border-left", "border-radius", "border-right", "border-spacing",
        "border-style", "border-top", "border-width", "color", "direction", "display", "font",
        "font-family", "font-size", "font-style", "font-variant", "font-weight", "height",
        "letter-spacing", "line-height", "list-style", "list-style-type", "margin",
        "margin-bottom", "margin-left", "margin-right", "margin-top", "max-height", "max-width",
        "min-height", "min-width", "padding", "padding-bottom", "padding-left", "padding-right",
        "padding-top", "table-layout", "text-align", "text-decoration", "text-indent",
        "text-transform", "vertical-align", "white-space", "width", "word-break", "word-spacing",
        "word-wrap", "overflow-wrap", "mso-line-height-rule", "mso-table-lspace",
        "mso-table-rspace",
    }
)  # fmt: skip
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})

_inliner = css_inline.CSSInliner(
    load_remote_stylesheets=False, keep_style_tags=False, keep_link_tags=False
)
_cleaner = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags={"script", "style", "title", "head", "noscript", "template", "xmp"},
    attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(URL_SCHEMES),
    strip_comments=True,
    link_rel=None,
    filter_style_properties=set(ALLOWED_CSS),
)
_STYLE_ATTRIBUTE = re.compile(r'(\sstyle=")([^"]*)(")')
# A negative margin pulls what follows (the footer) up under the author's content.
_NEGATIVE_MARGIN = re.compile(r"^\s*margin[\w-]*\s*:[^;]*-\s*\.?\d", re.IGNORECASE)
# nh3 keeps an allowed property whatever function its value calls: `width: expression(...)` is
# script to old Internet Explorer (and Outlook, which renders with it). nh3 has already decoded
# CSS escapes and dropped comments, so the plain words are what is left to find.
_SCRIPT_IN_CSS = re.compile(r"expression\s*\(|javascript:|vbscript:", re.IGNORECASE)


def _without_unsafe_declarations(match: re.Match) -> str:
    declarations = [d for d in match.group(2).split(";") if d.strip()]
    kept = [
        d for d in declarations if not _NEGATIVE_MARGIN.match(d) and not _SCRIPT_IN_CSS.search(d)
    ]
    return match.group(1) + ";".join(kept) + match.group(3)


def sanitise_html(source: str, *, field: str = "html_body") -> str:
    """The author's HTML with its CSS inlined and everything unsafe for mail removed: scripts,
    forms, comments, <style> blocks (so no rule can reach the footer), event handlers, unsafe URL
    schemes, positioning CSS and CSS that runs script. Unclosed tags come back closed."""
    try:
        inlined = _inliner.inline(source)
    except (css_inline.InlineError, ValueError) as exc:
        raise ApplicationError(
            f"The HTML's CSS could not be read: {exc}. Check the <style> blocks.", field=field
        ) from exc
    cleaned = _cleaner.clean(inlined)
    return _STYLE_ATTRIBUTE.sub(_without_unsafe_declarations, cleaned)


_BLOCK_TAGS = frozenset(
    {"p", "div", "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote",
     "pre", "hr", "dl", "dt", "dd", "address", "center"}
)  # fmt: skip


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._links: list[tuple[str, int]] = []

    def handle_starttag(self, tag, attrs):
        if tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag == "a":
            self._links.append((dict(attrs).get("href") or "", len(self.parts)))

    def handle_endtag(self, tag):
        if tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
        elif tag == "a" and self._links:
            href, start = self._links.pop()
            label = "".join(self.parts[start:]).strip()
            if is_trackable(href) and href != label:
                self.parts.append(f" ({href})")

    def handle_data(self, data):
        self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(cleaned_html: str) -> str:
    """A readable plain-text version of sanitised HTML: paragraphs, list items, link targets."""
    extractor = _TextExtractor()
    extractor.feed(cleaned_html)
    extractor.close()
    text = "".join(extractor.parts)
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# nh3 writes every attribute as name="value", so these plain patterns find every link.
ANCHOR_HREF = re.compile(r'(<a\b[^>]*?\shref=")([^"]*)(")', re.IGNORECASE)
URL_IN_TEXT = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)


def is_trackable(url: str) -> bool:
    """Web links go through the click tracker; mailto: and tel: do not."""
    return url.lower().startswith(("http://", "https://"))
