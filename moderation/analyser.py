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
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.utils import parseaddr
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.utils.translation import gettext_noop

from campaigns.findings import SEVERITY_RANK, Finding, Severity
from campaigns.merge import MERGE_TAG, MergeProgram, MergeTagError, compile_merge_tag, merge_context
from config.coded_text import coded, define, percent
from lists.selectors import attributes_present, role_address_share

if TYPE_CHECKING:
    from campaigns.models import Campaign

RULES_PATH = Path(__file__).resolve().parent / "rules" / "content_rules.toml"
MAX_EXCERPT = 120
EXCERPT_ITEMS = 3


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
    # The subscriber attributes the merge tags read that at least one subscriber of the
    # campaign's lists has; None when not known (the analyser then does not judge attributes).
    present_attributes: frozenset[str] | None = None


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
        *_merge_findings(content),
        *_identity_findings(content),
        *_service_contact_findings(texts, links),
        *_link_findings(links, rules),
        *_category_findings(texts, rules),
        *_role_list_findings(content.list_role_shares, settings.ROLE_ADDRESS_FLAG_SHARE),
    ]
    return sorted(findings, key=lambda finding: SEVERITY_RANK[finding.severity])


def analyse_campaign(campaign: Campaign) -> list[Finding]:
    """`analyse_content` for a Campaign: its texts, its account's identity and its lists' share
    of role addresses (one count query per list)."""
    account = campaign.account
    keys = merge_attribute_keys(
        (campaign.subject or "", campaign.html_body or "", campaign.text_body or "")
    )
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
            present_attributes=attributes_present(
                mailing_lists=list(campaign.lists.all()), keys=keys
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
    for category in data["category"]:
        # The reason is data; its code is defined here, its Russian kept in moderation.po.
        define(_category_code(category["code"]), category["reason"].replace("{found}", "%(found)s"))
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


def _category_code(code: str) -> str:
    return f"moderation.finding.{code}"


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
            coded("moderation.finding.subject.empty"),
            where="subject",
        )
        return
    if reply := _REPLY_PREFIX.match(subject):
        prefix = reply.group("prefix")
        yield Finding(
            "subject.fake_reply",
            Severity.BLOCK,
            coded("moderation.finding.subject.fake_reply", prefix=prefix),
            where="subject",
            excerpt=prefix,
        )
    cased = [char for char in subject if char.isupper() or char.islower()]
    capitals = sum(char.isupper() for char in cased)
    if len(cased) >= _ALL_CAPS_MIN_LETTERS and capitals >= _ALL_CAPS_SHARE * len(cased):
        yield Finding(
            "subject.all_caps",
            Severity.REVIEW,
            coded("moderation.finding.subject.all_caps"),
            where="subject",
            excerpt=_shorten(subject.strip()),
        )
    if bait := _distinct(rules.subject_bait.findall(subject)):
        yield Finding(
            "subject.bait",
            Severity.REVIEW,
            coded("moderation.finding.subject.bait", found=_quoted(bait)),
            where="subject",
            excerpt=_excerpt(bait),
        )


# --- Sender identity -----------------------------------------------------------------------


def _identity_findings(content: ContentUnderReview) -> Iterator[Finding]:
    if not content.company_name.strip():
        yield Finding(
            "identity.missing_company",
            Severity.BLOCK,
            coded("moderation.finding.identity.missing_company"),
            where="sender",
        )
    if not content.postal_address.strip():
        yield Finding(
            "identity.missing_postal_address",
            Severity.BLOCK,
            coded("moderation.finding.identity.missing_postal_address"),
            where="sender",
        )
    if not content.from_name.strip():
        yield Finding(
            "identity.missing_from_name",
            Severity.BLOCK,
            coded("moderation.finding.identity.missing_from_name"),
            where="sender",
        )
    from_email = content.from_email.strip()
    local, at, domain = from_email.rpartition("@")
    if not (at and local and domain) or any(char.isspace() for char in from_email):
        yield Finding(
            "identity.invalid_from_email",
            Severity.BLOCK,
            coded(
                "moderation.finding.identity.invalid_from_email", address=_shorten(from_email, 60)
            )
            if from_email
            else coded("moderation.finding.identity.no_from_email"),
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
_MALWARE_KINDS = ("executable", "script", "bare_ip", "denied_host")  # moderation/texts.py


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
            coded("moderation.finding.link.shortener", hosts=", ".join(hosts)),
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
        described = [coded(f"moderation.finding.malware.{kind}") for kind in kinds]
        if described[1:]:
            text = coded(
                "moderation.finding.link.malware_several", kinds=described[:-1], last=described[-1]
            )
        else:
            text = coded("moderation.finding.link.malware", kinds=described)
        yield Finding(
            "link.malware",
            Severity.BLOCK,
            text,
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
            coded("moderation.finding.service.contact", found=_quoted(found)),
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
                coded(_category_code(category.code), found=_quoted(found)),
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
                coded(
                    "moderation.finding.lists.role_addresses",
                    list=_shorten(name, 60),
                    share=percent(share),
                ),
                where="lists",
                excerpt=_shorten(f"{name} ({share:.0%})"),
            )


# --- Merge tags ----------------------------------------------------------------------------

# What each merge root holds (campaigns.merge.merge_context): a lookup of anything else is empty
# in every message, whoever receives it.
_KNOWN_FIELDS = {
    "subscriber": ("email", "name", "first_name", "last_name", "phone", "attributes"),
    "list": ("name",),
    "company": ("name",),
}
# What a subscriber with every field filled and every attribute set looks like, against one with
# nothing but an address: what the subject turns into for the second is what is judged.
_FULL_SUBSCRIBER = {"email": "a@example.com", "name": "Alex Example", "phone": "+10000000000"}
_GAP_BEFORE_PUNCTUATION = re.compile(r"\s[,.;:!?)]")


def _tags(texts: Iterable[str]) -> Iterator:
    for text in texts:
        for match in MERGE_TAG.finditer(text):
            try:
                yield compile_merge_tag(match.group(1), field="")
            except MergeTagError:
                continue  # refused where the campaign is saved; nothing to add here


def _lookups(tag) -> Iterator[tuple[str, ...]]:
    """Each chain of constant lookups in the tag, from its root: ("subscriber", "attributes",
    "favourite")."""
    from jinja2 import nodes

    def chain(node) -> tuple[str, ...] | None:
        if isinstance(node, nodes.Name):
            return (node.name,)
        if isinstance(node, nodes.Getattr):
            inner = chain(node.node)
            return None if inner is None else (*inner, node.attr)
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            inner = chain(node.node)
            return None if inner is None else (*inner, str(node.arg.value))
        return None

    seen = set()
    for node in [tag.expression, *tag.expression.find_all((nodes.Getattr, nodes.Getitem))]:
        found = chain(node)
        if found is not None:
            seen.add(found)
    # Only the longest chains: "subscriber.attributes.city", not "subscriber.attributes" too.
    for found in seen:
        if not any(other[: len(found)] == found and other != found for other in seen):
            yield found


def _has_default(tag) -> bool:
    """Whether the tag gives a value of its own where data is missing (`| default("there")`)."""
    from jinja2 import nodes

    return any(node.name in ("default", "d") for node in tag.expression.find_all(nodes.Filter)) or (
        isinstance(tag.expression, nodes.Filter) and tag.expression.name in ("default", "d")
    )


def merge_attribute_keys(texts: Iterable[str]) -> frozenset[str]:
    """The subscriber attributes the merge tags in `texts` read by name."""
    return frozenset(
        lookup[2]
        for tag in _tags(texts)
        for lookup in _lookups(tag)
        if lookup[:2] == ("subscriber", "attributes") and len(lookup) > 2
    )


def _subject_for(subject: str, context: dict) -> str | None:
    tags = list(_tags([subject]))
    if not tags:
        return None
    values = iter(MergeProgram(tags).evaluate(context))
    return MERGE_TAG.sub(lambda _match: next(values, ""), subject)


def _merge_findings(content: ContentUnderReview) -> Iterator[Finding]:
    texts = (content.subject, content.html_body, content.text_body)
    reported = set()
    for tag in _tags(texts):
        for lookup in _lookups(tag):
            root, *keys = lookup
            if root not in _KNOWN_FIELDS or not keys or (tag.source, lookup) in reported:
                continue
            reported.add((tag.source, lookup))
            if keys[0] not in _KNOWN_FIELDS[root]:
                yield Finding(
                    "merge.unknown_field",
                    Severity.REVIEW,
                    coded(
                        "moderation.finding.merge.unknown_field",
                        tag=tag.source,
                        field=".".join(lookup[:2]),
                        known=", ".join(f"{root}.{name}" for name in _KNOWN_FIELDS[root]),
                    ),
                    where="merge",
                    excerpt=_shorten(tag.source),
                )
            elif (
                keys[0] == "attributes"
                and len(keys) > 1
                and not _has_default(tag)
                and content.present_attributes is not None
                and keys[1] not in content.present_attributes
            ):
                yield Finding(
                    "merge.unknown_attribute",
                    Severity.REVIEW,
                    coded(
                        "moderation.finding.merge.unknown_attribute",
                        tag=tag.source,
                        attribute=keys[1],
                    ),
                    where="merge",
                    excerpt=_shorten(tag.source),
                )
    full = merge_context(
        **_FULL_SUBSCRIBER,
        attributes={},
        list_name="List",
        company_name=content.company_name or "Company",
    )
    full["subscriber"]["attributes"] = _EveryAttribute()
    empty = merge_context(
        email="a@example.com",
        name="",
        phone="",
        attributes={},
        list_name="List",
        company_name=content.company_name or "Company",
    )
    as_full, as_empty = _subject_for(content.subject, full), _subject_for(content.subject, empty)
    if as_full is None or as_empty is None:
        return
    starts_badly = _starts_with_punctuation(as_empty) and not _starts_with_punctuation(as_full)
    gaps = len(_GAP_BEFORE_PUNCTUATION.findall(as_empty)) > len(
        _GAP_BEFORE_PUNCTUATION.findall(as_full)
    )
    if starts_badly or gaps:
        example = _shorten(" ".join(as_empty.split()), 80)
        yield Finding(
            "subject.leading_punctuation",
            Severity.REVIEW,
            coded("moderation.finding.subject.leading_punctuation", example=example),
            where="subject",
            excerpt=example,
        )


class _EveryAttribute(dict):
    """Attributes of a subscriber who has them all: any name reads as a word."""

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str)

    def __getitem__(self, key: str) -> str:
        return "Value"


def _starts_with_punctuation(text: str) -> bool:
    stripped = text.lstrip()
    # Opening quotes and brackets begin a subject well enough; a comma, a dash or a closing
    # mark shows that something meant to stand before it is missing.
    return bool(stripped) and unicodedata.category(stripped[0]) in ("Po", "Pd", "Pe", "Pf")
