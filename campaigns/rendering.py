"""Rendering: a campaign is compiled once, then one message per recipient is a fast, pure function.

Compiling sanitises and inlines the author's HTML, compiles the merge tags in their sandbox,
numbers the links for the click tracker, makes the text version, and wraps it all in a fixed
document whose compliance footer the author cannot touch: it comes after the author's content
(which is closed off, its <style> blocks already gone), carries its own inline styles, and is
checked once per compile. Rendering then only fills in slots: merge values (escaped), link and
footer URLs with this recipient's signed tokens, the consent sentence and the open pixel.
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from email.utils import formataddr
from functools import lru_cache
from html.parser import HTMLParser
from operator import itemgetter
from typing import Any

from django.conf import settings
from django.core import signing
from django.utils import dateformat, translation
from django.utils.translation import gettext, gettext_lazy
from markupsafe import escape

from campaigns.html import ANCHOR_HREF, URL_IN_TEXT, html_to_text, is_trackable, sanitise_html
from campaigns.merge import (
    MERGE_TAG,
    MergeProgram,
    MergeTag,
    MergeTagError,
    compile_merge_tag,
    merge_context,
)
from campaigns.tokens import MessageTokens
from config.errors import ApplicationError

UNSUBSCRIBE_PATH = "/u/{}/"
REPORT_PATH = "/r/{}/"
CLICK_PATH = "/c/{}/"
OPEN_PATH = "/o/{}.gif"
CONSENT_PATH = "/k/{}/"
TEST_SUBJECT_PREFIX = "[Test] "
# The longest line a part may have to go unencoded: SMTP's 998 octets, less a margin for the
# CRLF and dot-stuffing (campaigns.mime).
SMTP_LINE_LIMIT = 990
# A consent request's "Yes" button (campaigns.consent_requests): the fixed template links here,
# and each message gets its own signed CONSENT_PATH link in its place (never a tracked link).
CONSENT_BUTTON_URL = "https://consent-request.invalid/yes"
CONSENT_LINK_SALT = "campaigns.consent_request"

# "You subscribed to <list> of <company> via ..." (rule 3), in the list's language.
CONSENT_SOURCE_WORDS = {
    "web_form": gettext_lazy("our sign-up form"),
    "form_checkbox": gettext_lazy("a consent checkbox on one of our forms"),
    "paper_form": gettext_lazy("a signed paper form"),
    "client_reconfirmed": gettext_lazy("your reply to our request for consent"),
    "api": gettext_lazy("a sign-up recorded in our systems"),
}


class RenderingError(RuntimeError):
    """The compiled document failed its own compliance check: a bug, never the author's fault."""


@dataclass(frozen=True)
class CampaignContent:
    """Everything a campaign's messages are made of except the recipient. Hashable: the compiled
    form is cached by it."""

    campaign_id: int
    account_id: int
    subject: str
    from_name: str
    from_email: str
    reply_to: str
    html_body: str
    text_body: str
    company_name: str
    postal_address: str


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    email: str
    name: str
    phone: str
    attributes: dict = field(hash=False)
    list_id: int
    list_name: str
    consent_source: str
    consented_at: datetime | date | None
    track_opens: bool = True
    track_clicks: bool = True
    # The list's language (settings.LANGUAGES): the footer is written in it. "": the default.
    language: str = ""


@dataclass(frozen=True, slots=True)
class PartLines:
    """What the renderer knows of one part's lines from its compiled skeleton and the lengths
    of what filled it, so that campaigns.mime need not measure 36 KB a message: an upper bound
    on the longest line in UTF-8 bytes, and whether a line starts with "." (SMTP's
    dot-stuffing has work to do; None: not known). Facts about `text`, that very string: a
    message whose part was replaced since (another object) is measured afresh."""

    text: str = field(repr=False)
    longest_line_bound: int
    dot_lines: bool | None

    def about(self, text: str) -> bool:
        return self.text is text


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    html: str
    text: str
    # The From as its two parts: campaigns.mime and campaigns.mail build the header from them
    # (a headerregistry Address), never from a string that would be parsed again.
    from_name: str
    from_email: str
    to: str
    reply_to: str
    # The envelope sender (VERP, so a bounce names the message) or "" for the From address.
    return_path: str
    headers: dict[str, str]
    message_ref: str
    # What the renderer knows of the lines of `text` and `html` (see PartLines).
    text_lines: PartLines | None = field(default=None, repr=False, compare=False)
    html_lines: PartLines | None = field(default=None, repr=False, compare=False)

    @property
    def from_header(self) -> str:
        """The From as people read it on previews; not for building a message."""
        return formataddr((_one_line(self.from_name), self.from_email))


# CompiledSegment kinds. A compiled part is a list of (kind, value) pairs.
_STATIC, _MERGE, _LINK, _SLOT = range(4)
# (kind, value): the text itself for _STATIC, else the index of the merge field, link or slot.
CompiledSegment = tuple[int, Any]
# Slots: per-recipient values that are not merge tags or links.
_SUBJECT, _UNSUBSCRIBE_URL, _REPORT_URL, _CONSENT, _IDENTITY, _PIXEL, _CONSENT_URL = range(7)

_FOOTER_MARK = 'id="compliance-footer"'
_TEXT_STYLE = (
    "margin:0 0 8px 0;padding:0;font-family:Arial,Helvetica,sans-serif;font-size:13px;"
    "line-height:1.5;color:#3f3f46;background-color:#ffffff;font-weight:normal;"
    "text-align:left;visibility:visible;opacity:1;display:block"
)
_LINK_STYLE = (
    "color:#1d4ed8;background-color:#ffffff;font-size:13px;text-decoration:underline;"
    "font-weight:bold;visibility:visible;opacity:1"
)


def _footer_html(language: str) -> list[CompiledSegment]:
    """The compliance footer in the active language (`language`): fixed markup with inline
    styles that set every property an author could use to hide it (colour on its own
    background, size, display, visibility)."""
    return [
        (
            _STATIC,
            "\n<table "
            + _FOOTER_MARK
            + f' lang="{language}" role="presentation" width="100%" cellpadding="0" '
            'cellspacing="0" border="0" '
            'style="width:100%;border-collapse:collapse;background-color:#ffffff;'
            'border-top:1px solid #d4d4d8;margin:24px 0 0 0;display:table;visibility:visible">\n'
            '<tr><td style="padding:20px 16px;background-color:#ffffff;color:#3f3f46;'
            'font-size:13px;display:table-cell;visibility:visible">\n'
            f'<p style="{_TEXT_STYLE}">\n',
        ),
        (_SLOT, _CONSENT),
        # Line breaks keep every line under SMTP's 998 characters, so the part goes as 8bit,
        # not the quoted-printable Django falls back to for long lines.
        (_STATIC, f'</p>\n<p style="{_TEXT_STYLE}">\n<a href="'),
        (_SLOT, _UNSUBSCRIBE_URL),
        (
            _STATIC,
            f'"\nstyle="{_LINK_STYLE}">{escape(gettext("Unsubscribe"))}</a> &middot;\n<a href="',
        ),
        (_SLOT, _REPORT_URL),
        (
            _STATIC,
            f'"\nstyle="{_LINK_STYLE}">{escape(gettext("Report spam"))}</a></p>\n'
            f'<p style="{_TEXT_STYLE}">\n',
        ),
        (_SLOT, _IDENTITY),
        (_STATIC, "</p></td></tr></table>\n"),
        (_SLOT, _PIXEL),
    ]


@dataclass(frozen=True)
class _LanguageParts:
    """A compiled campaign's parts in one language: the HTML and text skeletons (their footer
    words) and the consent sentence's words, translated once per campaign, not per message."""

    html: _Skeleton
    text: _Skeleton
    sources: dict[str, str]
    unknown_source: str
    subscribed: str
    subscribed_on: str
    request: str


@dataclass
class CompiledCampaign:
    content: CampaignContent
    links: list[str]
    merge: MergeProgram
    # Each part is a skeleton whose fields are numbered, in order: the merge values, the
    # links, then the slots (see _Skeleton). The subject is the author's alone; the HTML and
    # text parts carry the footer, so there is one of each per language (_parts_in).
    subject: _Skeleton
    author_html: list[CompiledSegment]
    author_text: list[CompiledSegment]
    identity_html: str
    identity_text: str
    sender_domain: str
    links_html: list[str] = field(default_factory=list)
    has_consent_button: bool = False
    _dates: dict = field(default_factory=dict)
    _parts: dict[str, _LanguageParts] = field(default_factory=dict)

    def _parts_in(self, language: str) -> _LanguageParts:
        """The parts in `language` (a list's; unknown or "": the default), built on first use.
        Two threads may build the same language at once: both results are equal."""
        parts = self._parts.get(language)
        if parts is not None:
            return parts
        if language not in dict(settings.LANGUAGES):
            # Kept under this name too: the next message of this list finds it at once.
            parts = self._parts[language] = self._parts_in(settings.LANGUAGE_CODE)
            return parts
        merges, links = len(self.merge), len(self.links)
        with translation.override(language):
            html_segments = [*self.author_html[:-1], *_footer_html(language), self.author_html[-1]]
            _check_footer_isolated(html_segments)
            text_segments = [
                *self.author_text,
                (_STATIC, "\n\n-- \n"),
                (_SLOT, _CONSENT),
                (_STATIC, "\n" + gettext("Unsubscribe") + ": "),
                (_SLOT, _UNSUBSCRIBE_URL),
                (_STATIC, "\n" + gettext("Report spam") + ": "),
                (_SLOT, _REPORT_URL),
                (_STATIC, "\n"),
                (_SLOT, _IDENTITY),
                (_STATIC, "\n"),
            ]
            parts = _LanguageParts(
                html=_Skeleton(html_segments, merges=merges, links=links),
                text=_Skeleton(text_segments, merges=merges, links=links),
                sources={key: str(words) for key, words in CONSENT_SOURCE_WORDS.items()},
                unknown_source=gettext("a sign-up"),
                subscribed=gettext(
                    "You receive this because you subscribed to “%(list)s” of %(company)s via "
                    "%(source)s."
                ),
                subscribed_on=gettext(
                    "You receive this because you subscribed to “%(list)s” of %(company)s via "
                    "%(source)s on %(date)s."
                ),
                request=gettext(
                    "You receive this one request because you are a client of %(company)s: "
                    "unless you answer yes, we will not write to you about “%(list)s”."
                ),
            )
        self._parts[language] = parts
        return parts

    def subject_for(self, recipient: Recipient) -> str:
        """The subject exactly as `recipient`'s message has it (no test prefix)."""
        merged = self._merged(recipient)
        return _one_line(self.subject.fill([*merged, *self.links])[0])

    def _merged(self, recipient: Recipient) -> list[str]:
        """The merge tags' values for `recipient`, in the compiled tags' order."""
        return self.merge.evaluate(
            merge_context(
                email=recipient.email,
                name=recipient.name,
                phone=recipient.phone,
                attributes=recipient.attributes,
                list_name=recipient.list_name,
                company_name=self.content.company_name,
            )
        )

    def render(
        self,
        recipient: Recipient,
        *,
        to: str | None = None,
        is_test: bool = False,
        subject_prefix: str = "",
    ) -> RenderedMessage:
        """One recipient's message. Previews and test sends set `is_test` (their tokens change
        nothing); a test send also goes `to` the sender's own address with a subject prefix."""
        content = self.content
        tokens = MessageTokens(
            campaign_id=content.campaign_id,
            subscriber_id=recipient.subscriber_id,
            is_test=is_test,
        )
        merged = self._merged(recipient)
        site = settings.SITE_URL
        if recipient.track_clicks:
            # Tokens are base64url and SITE_URL is ours: these need no HTML escaping.
            links = [site + CLICK_PATH.format(token) for token in tokens.clicks(len(self.links))]
            links_html = links
        else:
            links, links_html = self.links, self.links_html
        unsubscribe_token = tokens.unsubscribe()
        unsubscribe_url = site + UNSUBSCRIBE_PATH.format(unsubscribe_token)
        report_url = site + REPORT_PATH.format(tokens.report())
        parts = self._parts.get(recipient.language) or self._parts_in(recipient.language)
        consent = self._consent_sentence(recipient, parts)
        consent_url = ""
        if self.has_consent_button:
            consent_url = site + CONSENT_PATH.format(
                signing.dumps(
                    [content.campaign_id, recipient.subscriber_id, int(is_test)],
                    salt=CONSENT_LINK_SALT,
                )
            )

        subject = subject_prefix + _one_line(self.subject.fill([*merged, *links])[0])
        pixel = ""
        if recipient.track_opens:
            pixel = (
                f'<img src="{site}{OPEN_PATH.format(tokens.open())}" width="1" height="1" '
                'alt="" style="display:block;width:1px;height:1px;border:0">\n'
            )
        html, html_lines = parts.html.fill(
            [
                *[str(escape(value)) for value in merged],
                *links_html,
                # The slots, in their numbered order.
                str(escape(subject)),
                str(escape(unsubscribe_url)),
                str(escape(report_url)),
                str(escape(consent)),
                self.identity_html,
                pixel,
                str(escape(consent_url)),
            ]
        )
        text, text_lines = parts.text.fill(
            [
                *merged,
                *links,
                subject,
                unsubscribe_url,
                report_url,
                consent,
                self.identity_text,
                "",
                consent_url,
            ]
        )
        message_ref = tokens.message_ref()
        headers = {
            "Message-ID": f"<{message_ref}@{self.sender_domain}>",
            "List-Unsubscribe": (
                f"<{unsubscribe_url}>, <mailto:unsubscribe+{unsubscribe_token}@"
                f"{settings.BOUNCE_DOMAIN}?subject=unsubscribe>"
            ),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": f"{_one_line(recipient.list_name)[:100]} "
            f"<list-{recipient.list_id}.{self.sender_domain}>",
            "Feedback-ID": (
                f"{content.campaign_id}:{content.account_id}:campaign:{settings.FEEDBACK_ID_SENDER}"
            ),
            "X-Message-Ref": message_ref,
            "Precedence": "bulk",
        }
        return RenderedMessage(
            subject=subject,
            html=html,
            text=text,
            from_name=content.from_name,
            from_email=content.from_email,
            to=to or recipient.email,
            reply_to=content.reply_to,
            return_path=(
                f"bounce+{message_ref}@{settings.BOUNCE_DOMAIN}" if settings.VERP_ENABLED else ""
            ),
            headers=headers,
            message_ref=message_ref,
            text_lines=text_lines,
            html_lines=html_lines,
        )

    def _consent_sentence(self, recipient: Recipient, parts: _LanguageParts) -> str:
        words = {"list": recipient.list_name, "company": self.content.company_name}
        if self.has_consent_button:
            return parts.request % words
        words["source"] = parts.sources.get(recipient.consent_source, parts.unknown_source)
        when = recipient.consented_at
        if when is None:
            return parts.subscribed % words
        day = when.date() if isinstance(when, datetime) else when
        key = (recipient.language, day)
        formatted = self._dates.get(key)
        if formatted is None:
            # "E": the month as a date says it (Russian's genitive: "6 декабря 2026").
            with translation.override(recipient.language or settings.LANGUAGE_CODE):
                formatted = self._dates[key] = dateformat.format(day, "j E Y")
        words["date"] = formatted
        return parts.subscribed_on % words


def _utf8_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


class _Skeleton:
    """A compiled part: its fixed text cut at the fields, filled per recipient with one join
    (str.format would parse the 36 KB template again for every message).

    It also knows enough of its lines to bound the longest line of any filling: the longest
    line without a field, and over the lines with fields the most fixed bytes and the most
    fields one holds. A field's value can only lengthen the line it is on by its own length (a
    line break in it only shortens lines), so `fixed + fields x longest value` bounds them."""

    __slots__ = (
        "_pieces",
        "_fields",
        "_pick",
        "_plain_max",
        "_field_line_fixed",
        "_per_line",
        "_fixed_dot_lines",
        "_line_start_fields",
    )

    def __init__(self, segments: list[CompiledSegment], *, merges: int, links: int) -> None:
        pieces: list[str] = [""]
        fields: list[int] = []
        for kind, value in segments:
            if kind is _STATIC:
                pieces[-1] += value
                continue
            if kind is _MERGE:
                fields.append(value)
            elif kind is _LINK:
                fields.append(merges + value)
            else:
                fields.append(merges + links + value)
            pieces.append("")
        self._pieces = pieces
        self._fields = fields
        self._pick = itemgetter(*fields) if len(fields) > 1 else None
        self._measure()
        # Dot-stuffing: a line starts with "." in the fixed text, or where a field starts a
        # line (the part's start, or after a line break) and its value starts with ".".
        # Values without line breaks cannot start a line anywhere else.
        # (A CR in the fixed text would become a line break in campaigns.mime: then not known.)
        self._fixed_dot_lines = (
            None
            if any("\r" in piece for piece in pieces)
            else pieces[0].startswith(".") or any("\n." in piece for piece in pieces)
        )
        self._line_start_fields = [
            number
            for number, piece in enumerate(pieces[:-1])
            if piece.endswith("\n") or (number == 0 and not piece)
        ]

    def _measure(self) -> None:
        plain_max = field_line_fixed = per_line = 0
        fixed = fields = 0  # of the line being measured

        def line_ends() -> None:
            nonlocal plain_max, field_line_fixed, per_line
            if fields:
                field_line_fixed = max(field_line_fixed, fixed)
                per_line = max(per_line, fields)
            else:
                plain_max = max(plain_max, fixed)

        for index, piece in enumerate(self._pieces):
            fields += index > 0  # a field stands before every piece but the first
            for number, line in enumerate(piece.split("\n")):
                if number:
                    line_ends()
                    fixed = fields = 0
                fixed += _utf8_length(line)
        line_ends()
        self._plain_max = plain_max
        self._field_line_fixed = field_line_fixed
        self._per_line = per_line

    def fill(self, values: list[str]) -> tuple[str, PartLines]:
        """The part with `values` in its fields, and what is known of its lines."""
        fields = self._fields
        if not fields:
            text = self._pieces[0]
            return text, PartLines(text, self._plain_max, self._fixed_dot_lines)
        picked = self._pick(values) if self._pick is not None else (values[fields[0]],)
        out = [""] * (2 * len(fields) + 1)
        out[0::2] = self._pieces
        out[1::2] = picked
        text = "".join(out)
        filled = "".join(picked)
        longest = max(map(len, picked))
        if not filled.isascii():
            # Bytes, not characters: measured value by value only when some are not ASCII.
            longest = max(map(_utf8_length, picked))
        bound = self._field_line_fixed + self._per_line * longest
        return text, PartLines(text, max(self._plain_max, bound), self._dot_lines(picked, filled))

    def _dot_lines(self, picked: tuple[str, ...], filled: str) -> bool | None:
        """Whether a line starts with ".": in the fixed text, where a field starts a line and
        its value starts with ".", after a line break inside a value, or where a value ends
        a line and the fixed text after it starts with "." (None: a CR, which campaigns.mime
        turns into a line break, or a value ending a line before another field)."""
        dots = self._fixed_dot_lines
        if dots is None or "\r" in filled:
            return None
        pieces = self._pieces
        for number in self._line_start_fields:
            value = picked[number] or pieces[number + 1]  # an empty value: what follows it
            if value.startswith("."):
                return True
            if not value:
                return None
        if "\n" not in filled:
            return dots
        for number, value in enumerate(picked):
            if "\n" not in value:
                continue
            if "\n." in value:
                return True
            if value.endswith("\n"):
                after = pieces[number + 1]
                if not after:
                    return None
                if after.startswith("."):
                    return True
        return dots


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _one_line(value: str) -> str:
    """Header-safe: no CR/LF (header injection) or other control characters."""
    return re.sub(r"\s+", " ", _CONTROL.sub(" ", value)).strip()


class _Compiler:
    """Holds the state of one compile: the merge tags and links found so far."""

    def __init__(self) -> None:
        self.marker = "cm" + secrets.token_hex(8)
        self.placeholder = re.compile(self.marker + r"([mls])(\d+)z")
        self.merge_tags: list[MergeTag] = []
        self.links: list[str] = []
        self._link_index: dict[str, int] = {}
        self._tag_index: dict[str, int] = {}
        self.has_consent_button = False

    def protect(self, text: str, *, field: str) -> str:
        """`text` with each merge tag compiled and replaced by a placeholder that neither the
        CSS inliner nor the sanitiser will change."""

        def replace(match: re.Match) -> str:
            tag = compile_merge_tag(match.group(1), field=field)
            index = self._tag_index.get(tag.source)
            if index is None:
                index = self._tag_index[tag.source] = len(self.merge_tags)
                self.merge_tags.append(tag)
            return f"{self.marker}m{index}z"

        return MERGE_TAG.sub(replace, text)

    def link(self, url: str, *, field: str) -> str:
        if url == CONSENT_BUTTON_URL:
            self.has_consent_button = True
            return f"{self.marker}s{_CONSENT_URL}z"
        if self.marker in url:
            raise MergeTagError(
                "Merge tags cannot be used inside link addresses: every link must be a fixed "
                "address that moderators can check.",
                field=field,
            )
        index = self._link_index.get(url)
        if index is None:
            index = self._link_index[url] = len(self.links)
            self.links.append(url)
        return f"{self.marker}l{index}z"

    def segments(self, text: str) -> list[CompiledSegment]:
        out: list[CompiledSegment] = []
        position = 0
        for match in self.placeholder.finditer(text):
            if match.start() > position:
                out.append((_STATIC, text[position : match.start()]))
            kind = {"m": _MERGE, "l": _LINK, "s": _SLOT}[match.group(1)]
            out.append((kind, int(match.group(2))))
            position = match.end()
        if position < len(text):
            out.append((_STATIC, text[position:]))
        return out


# Merge values are data, never content: the only attributes a merge tag may fill are these,
# whose text a mail client shows and never interprets (no style, no URL, no event).
MERGE_ATTRIBUTES = frozenset({"alt", "title"})


class _AttributeMergeCheck(HTMLParser):
    """Finds the first attribute other than MERGE_ATTRIBUTES whose value holds a merge tag."""

    def __init__(self, marker: str) -> None:
        super().__init__(convert_charrefs=True)
        self.marker = marker
        self.found: tuple[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        if self.found is not None:
            return
        for name, value in attrs:
            if value and self.marker in value and name not in MERGE_ATTRIBUTES:
                self.found = (tag, name)
                return

    handle_startendtag = handle_starttag


def _refuse_merge_in_attributes(cleaned_html: str, marker: str) -> None:
    check = _AttributeMergeCheck(marker)
    check.feed(cleaned_html)
    check.close()
    if check.found is not None:
        tag, attribute = check.found
        raise MergeTagError(
            gettext(
                "A merge tag is in the %(attribute)s attribute of a <%(tag)s>. Merge tags "
                "can only be used in text and in alt and title attributes: subscriber data "
                "can never set a style, a link or an image address."
            )
            % {"attribute": attribute, "tag": tag},
            field="html_body",
        )


@lru_cache(maxsize=64)
def compile_campaign(content: CampaignContent) -> CompiledCampaign:
    """The campaign ready to render, or MergeTagError / ApplicationError naming the field at
    fault. Cached by content: a worker compiles a campaign once, not once per recipient."""
    if len(content.html_body.encode()) > settings.CAMPAIGN_HTML_MAX_BYTES:
        # Saving and the editor's live preview both compile: neither works on what is too big.
        raise ApplicationError(
            f"The HTML is larger than {settings.CAMPAIGN_HTML_MAX_BYTES // 1024} KB.",
            field="html_body",
        )
    compiler = _Compiler()
    subject = compiler.segments(compiler.protect(content.subject, field="subject"))
    cleaned = sanitise_html(compiler.protect(content.html_body, field="html_body"))
    _refuse_merge_in_attributes(cleaned, compiler.marker)

    def track(match: re.Match) -> str:
        url = html.unescape(match.group(2))
        if not is_trackable(url):
            return match.group(0)
        return match.group(1) + compiler.link(url, field="html_body") + match.group(3)

    tracked_html = ANCHOR_HREF.sub(track, cleaned)
    if content.text_body.strip():
        text_source = compiler.protect(content.text_body.strip(), field="text_body")
        text_field = "text_body"
    else:
        text_source = html_to_text(cleaned)
        text_field = "html_body"
    text_source = URL_IN_TEXT.sub(
        lambda match: compiler.link(match.group(0), field=text_field), text_source
    )

    identity_text = " · ".join(
        part
        for part in (
            content.company_name,
            _one_line(content.postal_address),
            content.from_email,
        )
        if part
    )
    identity_html = (
        f"{escape(content.company_name)} &middot; {escape(_one_line(content.postal_address))}"
        f' &middot;\n<a href="mailto:{escape(content.from_email)}" style="{_LINK_STYLE}">'
        f"{escape(content.from_email)}</a>"
    )
    author_html = [
        (
            _STATIC,
            '<!DOCTYPE html>\n<html><head><meta http-equiv="Content-Type" '
            'content="text/html; charset=utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1"><title>',
        ),
        (_SLOT, _SUBJECT),
        (
            _STATIC,
            '</title></head>\n<body style="margin:0;padding:0;background-color:#ffffff">\n'
            '<div class="campaign-content">',
        ),
        *compiler.segments(tracked_html),
        (_STATIC, "</div>"),
        # The footer goes here, in each list's language (CompiledCampaign._parts_in).
        (_STATIC, "</body></html>\n"),
    ]
    merges, links = len(compiler.merge_tags), len(compiler.links)
    compiled = CompiledCampaign(
        content=content,
        links=compiler.links,
        merge=MergeProgram(compiler.merge_tags),
        subject=_Skeleton(subject, merges=merges, links=links),
        author_html=author_html,
        author_text=compiler.segments(text_source),
        identity_html=identity_html,
        identity_text=identity_text,
        sender_domain=content.from_email.rpartition("@")[2].lower(),
        links_html=[str(escape(link)) for link in compiler.links],
        has_consent_button=compiler.has_consent_button,
    )
    # The default language's parts at once: the footer's check runs on every compile.
    compiled._parts_in(settings.LANGUAGE_CODE)
    return compiled


class _StructureCheck(HTMLParser):
    """Records the open elements around the footer and any element that styles or scripts."""

    VOID = frozenset({"br", "hr", "img", "meta", "col", "input", "link", "wbr", "area", "source"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.footer_ancestors: list[str] | None = None
        self.forbidden: list[str] = []
        self.footers = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "link", "iframe", "object", "embed", "base"):
            self.forbidden.append(tag)
        if tag == "table" and ("id", "compliance-footer") in attrs:
            self.footers += 1
            self.footer_ancestors = list(self.stack)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass


def _check_footer_isolated(html_segments: list[CompiledSegment]) -> None:
    """The renderer's own guarantee, checked on every compile: the footer is a direct child of
    <body> (nothing the author opened is still open around it) and no <style>, <script> or
    <link> survived to restyle it."""
    skeleton = "".join(value if kind is _STATIC else "x" for kind, value in html_segments)
    check = _StructureCheck()
    check.feed(skeleton)
    check.close()
    if check.forbidden:
        raise RenderingError(f"forbidden elements in the compiled message: {check.forbidden}")
    if check.footer_ancestors != ["html", "body"]:
        raise RenderingError(f"the footer is nested in {check.footer_ancestors}")
    if check.footers != 1:
        raise RenderingError(f"{check.footers} footers in the compiled message")
