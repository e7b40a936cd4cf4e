"""The content analyser (DESIGN.md rules 5 and 6): what a campaign says, where it links and who it
claims to be from, checked when it is submitted and shown to the moderator who reviews it.

`analyse_content` is pure (no database; it reads a few settings at call time). The prohibited
categories, subject bait phrases, link shorteners and denied hosts are data, in
rules/content_rules.toml, compiled once.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.utils import parseaddr
from enum import StrEnum
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.utils.translation import gettext_noop

from lists.selectors import role_address_share

if TYPE_CHECKING:
    from campaigns.models import Campaign

RULES_PATH = Path(__file__).resolve().parent / "rules" / "content_rules.toml"
MAX_EXCERPT = 120
EXCERPT_ITEMS = 3


class Severity(StrEnum):
    BLOCK = "block"
    REVIEW = "review"
    INFO = "info"


_SEVERITY_RANK = {Severity.BLOCK: 0, Severity.REVIEW: 1, Severity.INFO: 2}


@dataclass(frozen=True)
class Finding:
    """One thing the analyser noticed, with a reason the sender can read."""

    code: str
    severity: Severity
    reason: str
    where: str = ""
    excerpt: str = ""

    def as_dict(self) -> dict[str, str]:
        """The finding as JSON-safe data, the severity as its string value."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "reason": self.reason,
            "where": self.where,
            "excerpt": self.excerpt,
        }


@dataclass(frozen=True)
class ContentUnderReview:
    """Everything the analyser looks at, detached from the models."""

    subject: str
    from_name: str
    from_email: str
    html_body: str
    text_body: str
    company_name: str
    postal_address: str
    list_role_shares: tuple[tuple[str, float], ...] = ()


def analyse_content(content: ContentUnderReview) -> list[Finding]:
    """Every finding about `content`: block first, then review, then info; pure, no database."""
    rules = content_rules()
    subject = _normalise(content.subject)
    extracted = _extract_html(content.html_body)
    text_body = _normalise(content.text_body)
    body = f"{text_body}\n{extracted.text}"
    texts = (("subject", subject), ("body", body))
    links = list(_links(extracted.links, (subject, text_body, extracted.text)))

    findings = [
        *_subject_findings(subject, rules),
        *_identity_findings(content),
        *_service_contact_findings(texts, links),
        *_link_findings(links, rules),
        *_category_findings(texts, rules),
        *_role_list_findings(content.list_role_shares, settings.ROLE_ADDRESS_FLAG_SHARE),
    ]
    return sorted(findings, key=lambda finding: _SEVERITY_RANK[finding.severity])


def analyse_campaign(campaign: Campaign) -> list[Finding]:
    """`analyse_content` for a Campaign: its texts, its account's identity and its lists' share
    of role addresses (one count query per list)."""
    account = campaign.account
    return analyse_content(
        ContentUnderReview(
            subject=campaign.subject or "",
            from_name=campaign.from_name or "",
            from_email=campaign.from_email or "",
            html_body=campaign.html_body or "",
            text_body=campaign.text_body or "",
            company_name=account.company_name or "",
            postal_address=account.postal_address or "",
            list_role_shares=tuple(
                (mailing_list.name, role_address_share(mailing_list=mailing_list))
                for mailing_list in campaign.lists.all()
            ),
        )
    )


# --- Rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhraseMatcher:
    """Phrases matched case-insensitively as whole words, in the pattern syntax described at the
    top of content_rules.toml (spaces or hyphens between words, optional inner hyphens, `stem*`)."""

    # Runs over lowercased text: far faster than re.IGNORECASE over hundreds of alternatives.
    regex: re.Pattern[str]

    @classmethod
    def from_patterns(cls, patterns: Iterable[str]) -> PhraseMatcher:
        """One alternation of all `patterns`; a malformed pattern raises ValueError."""
        groups: dict[tuple[bool, bool], list[str]] = {}
        for pattern in patterns:
            core, starts_with_word, ends_with_word = _pattern_regex(pattern)
            groups.setdefault((starts_with_word, ends_with_word), []).append(core)
        # Word boundaries only where a pattern starts or ends with a word character ("100% free"
        # still works), shared by a whole group so that a position inside a word fails at once.
        # A word right behind a hyphen is not matched: "anti-drug", "ssh-keygen".
        alternatives = [
            ("(?<![\\w-])" if starts else "")
            + f"(?:{'|'.join(cores)})"
            + ("(?!\\w)" if ends else "")
            for (starts, ends), cores in sorted(groups.items(), reverse=True)
        ]
        return cls(re.compile("|".join(alternatives) if alternatives else "(?!)"))

    def findall(self, text: str) -> Iterator[str]:
        """The phrases found in `text`, as written there, with inner whitespace made one space."""
        lowered = text.lower()
        # lower() keeps the length of all but a few letters ("İ"); then the lowered text is shown.
        source = text if len(lowered) == len(text) else lowered
        for match in self.regex.finditer(lowered):
            yield " ".join(source[match.start() : match.end()].split())


@dataclass(frozen=True)
class CategoryRule:
    code: str
    label: str  # English; translated where shown (locale/parts/moderation.po)
    severity: Severity
    reason: str
    phrases: PhraseMatcher


@dataclass(frozen=True)
class ContentRules:
    categories: tuple[CategoryRule, ...]
    subject_bait: PhraseMatcher
    shorteners: frozenset[str]
    denied_hosts: frozenset[str]
    executable_extensions: tuple[str, ...]


@functools.cache
def content_rules() -> ContentRules:
    """The rules in content_rules.toml, with every pattern compiled; loaded once per process."""
    with RULES_PATH.open("rb") as file:
        data = tomllib.load(file)
    categories = tuple(
        CategoryRule(
            code=category["code"],
            label=category["label"],
            severity=Severity(category["severity"]),
            reason=category["reason"],
            phrases=PhraseMatcher.from_patterns([*category["en"], *category["ru"]]),
        )
        for category in data["category"]
    )
    bait = data["subject_bait"]
    links = data["links"]
    return ContentRules(
        categories=categories,
        subject_bait=PhraseMatcher.from_patterns([*bait["en"], *bait["ru"]]),
        shorteners=frozenset(host.lower() for host in links["shorteners"]),
        denied_hosts=frozenset(host.lower() for host in links["denied_hosts"]),
        executable_extensions=tuple(ext.lower() for ext in links["executable_extensions"]),
    )


@dataclass(frozen=True)
class ProhibitedCategory:
    """A kind of content the analyser flags, as the terms page names it."""

    code: str
    label: str  # English; pass it through gettext to show it
    severity: Severity


# Malware links are found by the link checks rather than by phrases, but are prohibited content all
# the same (DESIGN.md rule 6).
MALWARE_LINKS = ProhibitedCategory(
    "link.malware",
    gettext_noop("Links to malware, phishing or programs to download"),
    Severity.BLOCK,
)


def prohibited_categories() -> tuple[ProhibitedCategory, ...]:
    """Every prohibited category the analyser knows, in the rules' order, malware links last: the
    one list the terms page is generated from, so the two never drift."""
    return (
        *(
            ProhibitedCategory(category.code, category.label, category.severity)
            for category in content_rules().categories
        ),
        MALWARE_LINKS,
    )


_WORD_SEPARATOR = r"[\s\-\u2010\u2011\u2013\u2014]+"
_INNER_HYPHEN = r"[\s\-\u2010\u2011]?"


# Letters written more than one way: "ё" is often typed "е", an apostrophe may be curly.
_EQUIVALENT_LETTERS = {"е": "[её]", "'": "['\u2019\u02bc]"}


def _letters_regex(letters: str) -> str:
    return "".join(_EQUIVALENT_LETTERS.get(letter) or re.escape(letter) for letter in letters)


def _pattern_regex(pattern: str) -> tuple[str, bool, bool]:
    """The regex of one pattern, for lowercased text, and whether it starts and ends a word."""
    words = pattern.lower().replace("ё", "е").split()
    if not words:
        raise ValueError("An empty content pattern.")
    parts = []
    for word in words:
        stem = word.removesuffix("*")
        if not stem or "*" in stem:
            raise ValueError(f"A '*' may only end a word: {pattern!r}")
        part = _INNER_HYPHEN.join(_letters_regex(piece) for piece in stem.split("-"))
        parts.append(part + (r"\w*" if word.endswith("*") else ""))
    starts_with_word = bool(re.match(r"\w", words[0]))
    ends_with_word = bool(re.search(r"[\w*]$", words[-1]))
    return _WORD_SEPARATOR.join(parts), starts_with_word, ends_with_word


# --- Text ----------------------------------------------------------------------------------

# Soft hyphens and zero-width characters are invisible, and are used to split words past filters.
_INVISIBLE_CHARACTERS = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")


def _normalise(text: str) -> str:
    return _INVISIBLE_CHARACTERS.sub("", text)


@dataclass(frozen=True)
class _RawLink:
    url: str
    attribute: str


@dataclass(frozen=True)
class _ExtractedHtml:
    text: str
    links: tuple[_RawLink, ...]


# Elements that start a new line when rendered; text inside inline elements (b, span, a, font...)
# runs on, so "ca<b>sino</b>" reads "casino", as the recipient sees it.
_BLOCK_ELEMENTS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "center", "dd", "div", "dl",
        "dt", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "img", "li", "main",
        "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead",
        "title", "tr", "ul",
    }
)  # fmt: skip
_UNRENDERED_ELEMENTS = frozenset({"script", "style", "template"})
_URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "background", "poster"})


class _VisibleTextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.links: list[_RawLink] = []
        self._unrendered_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _UNRENDERED_ELEMENTS:
            self._unrendered_depth += 1
        self.handle_startendtag(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_ELEMENTS:
            self.pieces.append("\n")
        for name, value in attrs:
            if not value:
                continue
            if name in _URL_ATTRIBUTES:
                self.links.append(_RawLink(value, name))
            elif name == "srcset":
                for candidate in value.split(","):
                    if candidate.strip():
                        self.links.append(_RawLink(candidate.split()[0], name))

    def handle_endtag(self, tag: str) -> None:
        if tag in _UNRENDERED_ELEMENTS:
            self._unrendered_depth = max(0, self._unrendered_depth - 1)
        elif tag in _BLOCK_ELEMENTS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._unrendered_depth:
            self.pieces.append(data)


def _extract_html(html: str) -> _ExtractedHtml:
    if not html.strip():
        return _ExtractedHtml("", ())
    parser = _VisibleTextParser()
    parser.feed(html)
    parser.close()
    return _ExtractedHtml(_normalise("".join(parser.pieces)), tuple(parser.links))


def _distinct(items: Iterable[str], limit: int = EXCERPT_ITEMS) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(item.casefold(), item)
        if len(seen) == limit:
            break
    return list(seen.values())


def _shorten(text: str, limit: int = MAX_EXCERPT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _excerpt(items: Iterable[str]) -> str:
    return _shorten(", ".join(items))


def _quoted(items: Iterable[str]) -> str:
    return ", ".join(f'"{_shorten(item, 60)}"' for item in items)


def _first_location(
    phrases: PhraseMatcher, texts: Iterable[tuple[str, str]]
) -> tuple[str, list[str]]:
    """Where `phrases` are first found and the first few distinct ones across all `texts`."""
    where = ""
    found: list[str] = []
    for location, text in texts:
        matches = _distinct(itertools.chain(found, phrases.findall(text)))
        if len(matches) > len(found) and not where:
            where = location
        found = matches
        if len(found) >= EXCERPT_ITEMS:
            break
    return where, found


# --- Subject -------------------------------------------------------------------------------

_REPLY_PREFIX = re.compile(
    r"^\W*?(?P<prefix>(?:re|fwd?|отв|ответ|пересл|переслано)\s*(?:\[\d+\]|\(\d+\))?\s*[:：])",
    re.IGNORECASE,
)
_ALL_CAPS_MIN_LETTERS = 8
_ALL_CAPS_SHARE = 0.7


def _subject_findings(subject: str, rules: ContentRules) -> Iterator[Finding]:
    if not subject.strip():
        yield Finding(
            "subject.empty",
            Severity.BLOCK,
            "The subject is empty; write one that says what the message is about.",
            where="subject",
        )
        return
    if reply := _REPLY_PREFIX.match(subject):
        prefix = reply.group("prefix")
        yield Finding(
            "subject.fake_reply",
            Severity.BLOCK,
            f'The subject starts with "{prefix}", pretending to be a reply or a forward, '
            "but a campaign is never part of a conversation.",
            where="subject",
            excerpt=prefix,
        )
    cased = [char for char in subject if char.isupper() or char.islower()]
    capitals = sum(char.isupper() for char in cased)
    if len(cased) >= _ALL_CAPS_MIN_LETTERS and capitals >= _ALL_CAPS_SHARE * len(cased):
        yield Finding(
            "subject.all_caps",
            Severity.REVIEW,
            "The subject is written in capital letters, which reads as shouting and is typical "
            "of spam.",
            where="subject",
            excerpt=_shorten(subject.strip()),
        )
    if bait := _distinct(rules.subject_bait.findall(subject)):
        yield Finding(
            "subject.bait",
            Severity.REVIEW,
            f"The subject uses bait wording typical of spam ({_quoted(bait)}).",
            where="subject",
            excerpt=_excerpt(bait),
        )


# --- Sender identity -----------------------------------------------------------------------


def _identity_findings(content: ContentUnderReview) -> Iterator[Finding]:
    if not content.company_name.strip():
        yield Finding(
            "identity.missing_company",
            Severity.BLOCK,
            "Add your company's name in the company profile: every message must say who sends it.",
            where="sender",
        )
    if not content.postal_address.strip():
        yield Finding(
            "identity.missing_postal_address",
            Severity.BLOCK,
            "Add your company's postal address in the company profile: every message shows it.",
            where="sender",
        )
    if not content.from_name.strip():
        yield Finding(
            "identity.missing_from_name",
            Severity.BLOCK,
            "Add a sender name to the campaign, so recipients see who the message is from.",
            where="sender",
        )
    from_email = content.from_email.strip()
    local, at, domain = from_email.rpartition("@")
    if not (at and local and domain) or any(char.isspace() for char in from_email):
        yield Finding(
            "identity.invalid_from_email",
            Severity.BLOCK,
            f'The sender address "{_shorten(from_email, 60)}" is not an e-mail address; choose '
            "one on a domain you have verified."
            if from_email
            else "Choose a sender address on a domain you have verified.",
            where="sender",
            excerpt=_shorten(from_email),
        )


# --- Links ---------------------------------------------------------------------------------

_TEXT_URL = re.compile(
    r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"'«»]+"
    r"|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}/[^\s<>\"'«»]*",
    re.IGNORECASE,
)
_TRAILING_PUNCTUATION = ".,;:!?)]}'\"»…"
_SCHEME = re.compile(r"([a-z][a-z0-9+\-]*):", re.IGNORECASE)
_HOST_FIRST = re.compile(
    r"(?:www\.|(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}[:/?#])", re.IGNORECASE
)
# Browsers drop tabs, newlines and other control characters anywhere in a URL: "java\tscript:".
_URL_IGNORED = re.compile(r"[\x00-\x20\x7f]")
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]+|\d+)(?:\.(?:0x[0-9a-f]+|\d+))*", re.IGNORECASE)


@dataclass(frozen=True)
class _Link:
    url: str  # as written, for the excerpt
    scheme: str
    host: str
    path: str
    attribute: str  # the HTML attribute it came from, or "text"


def _links(html_links: Iterable[_RawLink], texts: Iterable[str]) -> Iterator[_Link]:
    raw = list(html_links)
    for text in texts:
        for match in _TEXT_URL.finditer(text):
            url = match.group().rstrip(_TRAILING_PUNCTUATION)
            if url:
                raw.append(_RawLink(url, "text"))
    seen = set()
    for item in raw:
        if (item.url, item.attribute) in seen:
            continue
        seen.add((item.url, item.attribute))
        if link := _parse_link(item):
            yield link


def _parse_link(item: _RawLink) -> _Link | None:
    cleaned = _URL_IGNORED.sub("", item.url)
    if not cleaned:
        return None
    scheme_match = _SCHEME.match(cleaned)
    scheme = scheme_match.group(1).lower() if scheme_match else ""
    url = cleaned
    if scheme not in ("http", "https", "ftp", "javascript", "vbscript", "data", "mailto"):
        if cleaned.startswith("//"):
            url, scheme = "http:" + cleaned, "http"
        elif _HOST_FIRST.match(cleaned):
            url, scheme = "http://" + cleaned, "http"
        elif scheme:
            return None  # tel:, sms: and other schemes lead nowhere on the web
    if scheme in ("javascript", "vbscript", "data", "mailto"):
        return _Link(item.url, scheme, "", cleaned[len(scheme) + 1 :], item.attribute)
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return None
    return _Link(item.url, scheme, host, unquote(parts.path), item.attribute)


def _host_within(host: str, domains: Iterable[str]) -> bool:
    """Whether `host` is one of `domains` or a subdomain of one."""
    labels = host.split(".")
    candidates = {".".join(labels[index:]) for index in range(len(labels))}
    return not candidates.isdisjoint(domains)


def _is_bare_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # Browsers also accept "3232235777" and "0x7f.0.0.1" as addresses.
        return bool(_NUMERIC_HOST.fullmatch(host))
    return True


_IMAGE_ATTRIBUTES = frozenset({"src", "srcset", "background", "poster"})
_MALWARE_KINDS = {
    "executable": "a program or script file to download",
    "script": "a javascript: or data: address",
    "bare_ip": "a bare IP address instead of a domain name",
    "denied_host": "a host known for malware or phishing",
}


def _malware_kinds(link: _Link, rules: ContentRules) -> Iterator[str]:
    if link.scheme in ("javascript", "vbscript"):
        yield "script"
    elif link.scheme == "data":
        # An inline image where an image goes is only a picture (unless SVG, which runs scripts).
        is_picture = link.path.lower().startswith("image/") and "svg" not in link.path[:20].lower()
        if not (link.attribute in _IMAGE_ATTRIBUTES and is_picture):
            yield "script"
    elif link.scheme != "mailto":
        if link.path.lower().rstrip("/").endswith(rules.executable_extensions):
            yield "executable"
        if link.host and _is_bare_ip(link.host):
            yield "bare_ip"
        if link.host and _host_within(link.host, rules.denied_hosts):
            yield "denied_host"


def _link_findings(links: list[_Link], rules: ContentRules) -> Iterator[Finding]:
    shortened = [link for link in links if link.host and _host_within(link.host, rules.shorteners)]
    if shortened:
        hosts = _distinct(link.host for link in shortened)
        yield Finding(
            "link.shortener",
            Severity.BLOCK,
            f"Links go through a URL shortener ({', '.join(hosts)}); link to the full address so "
            "recipients can see the real destination.",
            where="links",
            excerpt=_excerpt(_distinct(_shorten(link.url, 60) for link in shortened)),
        )
    kinds: dict[str, None] = {}
    urls = []
    for link in links:
        for kind in _malware_kinds(link, rules):
            kinds.setdefault(kind)
            urls.append(_shorten(link.url, 60))
    if urls:
        described = [_MALWARE_KINDS[kind] for kind in kinds]
        listed = " and ".join(
            [", ".join(described[:-1]), described[-1]] if described[1:] else described
        )
        yield Finding(
            "link.malware",
            Severity.BLOCK,
            f"The message links to {listed}, which is how malware and phishing spread.",
            where="links",
            excerpt=_excerpt(_distinct(urls)),
        )


# --- The service's own contact details (rule 5) ----------------------------------------------


@dataclass(frozen=True)
class _ServiceMarkers:
    phrases: PhraseMatcher
    hosts: frozenset[str]
    address: str


@functools.lru_cache(maxsize=8)
def _service_markers(site_url: str, default_from_email: str, service_name: str) -> _ServiceMarkers:
    address = parseaddr(default_from_email)[1].lower()
    hosts = {(urlsplit(site_url).hostname or "").rstrip("."), address.rpartition("@")[2]}
    hosts.discard("")
    alternatives = []
    if "@" in address:
        alternatives.append(rf"(?<![\w.+\-]){re.escape(address)}(?![\w\-]|\.\w)")
    # A host counts with any subdomain in front of it, but not as part of a longer name.
    alternatives.extend(
        rf"(?<![\w\-]){re.escape(host)}(?![\w\-]|\.[\w\-])"
        for host in sorted(hosts, key=len, reverse=True)
    )
    # The name inside another host name or address ("consentmail.example.org") is not ours.
    if name := service_name.strip().lower():
        alternatives.append(rf"(?<![\w.@\-]){re.escape(name)}(?![\w@\-]|\.[\w\-])")
    regex = re.compile("|".join(alternatives) if alternatives else "(?!)")
    return _ServiceMarkers(PhraseMatcher(regex), frozenset(hosts), address)


def _service_contact_findings(
    texts: Iterable[tuple[str, str]], links: list[_Link]
) -> Iterator[Finding]:
    markers = _service_markers(
        settings.SITE_URL, settings.DEFAULT_FROM_EMAIL, settings.SERVICE_NAME
    )
    where, found = _first_location(markers.phrases, texts)
    for link in links:
        if link.attribute == "text":
            continue  # already read as text
        if link.scheme == "mailto":
            mailbox = unquote(link.path.partition("?")[0]).strip().lower()
            matched = mailbox == markers.address or mailbox.rpartition("@")[2] in markers.hosts
        else:
            matched = bool(link.host) and _host_within(link.host, markers.hosts)
        if matched:
            where = where or "links"
            found = _distinct([*found, _shorten(link.url, 60)])
    if found:
        yield Finding(
            "service.contact",
            Severity.BLOCK,
            f"The message contains this service's own name or contact details ({_quoted(found)}); "
            "only your own company's details may appear in it.",
            where=where,
            excerpt=_excerpt(found),
        )


# --- Prohibited categories -----------------------------------------------------------------


def _category_findings(
    texts: tuple[tuple[str, str], ...], rules: ContentRules
) -> Iterator[Finding]:
    for category in rules.categories:
        where, found = _first_location(category.phrases, texts)
        if found:
            yield Finding(
                category.code,
                category.severity,
                category.reason.replace("{found}", _quoted(found)),
                where=where,
                excerpt=_excerpt(found),
            )


# --- Lists ---------------------------------------------------------------------------------


def _role_list_findings(shares: Iterable[tuple[str, float]], threshold: float) -> Iterator[Finding]:
    for name, share in shares:
        if share > threshold:
            yield Finding(
                "lists.role_addresses",
                Severity.REVIEW,
                f'The list "{_shorten(name, 60)}" is {share:.0%} role addresses (info@, sales@ '
                "and the like), which rarely come with a person's own consent.",
                where="lists",
                excerpt=_shorten(f"{name} ({share:.0%})"),
            )
