"""One reading of a refused or returned message, for every path: the SMTP reply at hand-over
(campaigns.refusals), DSN and plain-text bounces and ESP events (complaints).

`classify_bounce` returns what the failure says about the address:

- HARD: the mailbox does not exist or never will (5.1.1, 5.1.2, 5.1.3, 5.1.6, 5.1.10, 5.2.1,
  5.4.4, "user unknown"...). The address is suppressed, also platform-wide, so doubt is never
  hard.
- SOFT: temporary (every 4.x.x, mailbox full, greylisting, a message delayed, a server busy...):
  retried; three over a week suppress the address for the account.
- BLOCKED: a provider refused our content or our sender (5.7.x, 5.6.x, message too big, the
  sender's address refused 5.1.7/5.1.8, spam filters, block lists, policy, reputation). Never the
  recipient's fault: it never suppresses the address, and counts against the campaign.
- NOT_BOUNCE: delivered, relayed, or nothing that reads as a failure.

Evidence, strongest first: the DSN action ("delayed" is always soft, "delivered" is no bounce);
the most specific RFC 3463 enhanced status found in the status, the diagnostic and the reply
text (5.7.1 in a Diagnostic-Code beats a Status of 5.0.0; of equal specificity the first found);
for a status that says little (X.0.0, X.N.0 and the few that depend on the server: 5.4.1, 5.5.x)
the words of the reply; then the basic reply code, one way on every path: 550, 551 and 553 are
hard, every other 5xx soft, 4xx soft. Pure: no database, no settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class BounceClass(StrEnum):
    HARD = "hard"
    SOFT = "soft"
    BLOCKED = "blocked"
    NOT_BOUNCE = "not_bounce"


@dataclass(frozen=True)
class BounceVerdict:
    """The class, the code it was decided by ("5.1.1", "550", or "" for words alone) and a few
    words on why (for operators and the delivery log). `certain` is False when nothing telling
    was found and the class is the cautious default (a caller with other evidence, such as an
    ESP's own call, may prefer that)."""

    kind: BounceClass
    code: str = ""
    reason: str = ""
    certain: bool = True

    @property
    def is_failure(self) -> bool:
        return self.kind != BounceClass.NOT_BOUNCE


H, S, B, N = BounceClass.HARD, BounceClass.SOFT, BounceClass.BLOCKED, BounceClass.NOT_BOUNCE

# Enhanced status codes: "5.1.1", also "#5.1.1" (qmail) and "5.1.1." at a sentence's end; not
# a part of a version or an IP address.
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\d|\.\d)")
# A basic reply code: at the start of a line or after a separator, followed by a space, a dash
# or the end ("550 ...", "552-...", "(553)"). Not a part of a longer number.
_BASIC = re.compile(r"(?:^|[\s;:(\[#])([245][0-5]\d)(?=[\s\-;:)\]]|$)", re.MULTILINE)

# (subject, detail) of permanent (5.x.x) statuses whose meaning does not depend on the server.
_PERMANENT: dict[tuple[int, int], BounceClass] = {
    (1, 1): H,  # bad destination mailbox address
    (1, 2): H,  # bad destination system address (no such domain)
    (1, 3): H,  # bad destination mailbox address syntax
    (1, 4): S,  # ambiguous destination
    (1, 6): H,  # mailbox has moved, no forwarding address
    (1, 7): B,  # bad sender's mailbox address syntax
    (1, 8): B,  # bad sender's system address
    (1, 9): S,  # message relayed to a non-compliant mailer
    (1, 10): H,  # recipient address has a null MX (RFC 7505)
    (2, 1): H,  # mailbox disabled, not accepting messages
    (2, 2): S,  # mailbox full
    (2, 4): S,  # mailing list expansion problem
    (3, 1): S,  # mail system full
    (3, 2): S,  # system not accepting network messages
    (3, 3): S,  # system not capable of selected features
    (3, 4): B,  # message too big for the system
    (3, 5): S,  # system incorrectly configured
    (4, 2): S,  # bad connection
    (4, 3): S,  # directory server failure
    (4, 4): H,  # unable to route (no MX nor A record)
    (4, 5): S,  # mail system congestion
    (4, 6): S,  # routing loop
    (4, 7): S,  # delivery time expired
}
# Statuses that servers use for more than one thing: the words decide. 5.2.3 (message too
# long) is often sent for a mailbox over quota; 5.4.1 (no answer) is Exchange Online's unknown
# recipient.
_BY_WORDS = frozenset({(2, 3), (4, 1)})
# Subjects whose every detail has one meaning: media (5.6.x) and security or policy (5.7.x)
# refuse our content or our sender.
_PERMANENT_SUBJECT: dict[int, BounceClass] = {6: B, 7: B}
# Basic reply codes with nothing more specific: 550 mailbox unavailable, 551 user not local,
# 553 mailbox name not allowed are about the address; every other refusal is read as soft.
_HARD_BASIC = frozenset({550, 551, 553})

_MAX_TEXT = 8000


def _words(*patterns: str) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


# A provider refusing our content or our sender.
_BLOCK_WORDS = _words(
    r"\bspam",
    r"black ?list|block ?list|deny ?list|\bblock(ed|ing)?\b|\bbanned\b",
    r"\brbl\b|dnsbl|spamhaus|spamcop|barracuda|sorbs|cloudmark|proofpoint|mimecast",
    r"reputation|\bpolicy\b|policies|unsolicited|\bbulk\b|\bjunk\b",
    r"content (was )?(rejected|refused|filter)|message (content )?(was )?(rejected|refused) "
    r"(due|because|for|as)",
    r"rejected (due to|because of|as) (content|spam|policy|suspicious)",
    r"sender (address |domain )?(rejected|refused|denied|blocked|unknown|verify failed|invalid)",
    r"sender (is )?not (allowed|authori[sz]ed|permitted)",
    r"not (allowed|authori[sz]ed|permitted) to send|unauthenticated",
    r"\bspf\b|\bdkim\b|\bdmarc\b|authentication (is )?(required|failed)",
    r"virus|malware|phish|suspicious|prohibited attachment",
    r"message (size )?(is )?too (big|large|long)|(message|inbound|mail) size|size (limit|exceed)",
    r"relay(ing)? (access )?(denied|not permitted|prohibited)|unable to relay",
    r"not accepting (mail|messages|e-?mail) from",
)
# Temporary conditions and warnings.
_SOFT_WORDS = _words(
    r"mail ?box (is )?(full|over ?quota|exceeded)|full mail ?box|\bquota\b|over ?quota",
    r"(folder|box|disk|storage|space) (is )?(full|not enough)|not enough (storage|space|disk)",
    r"exceed(s|ed)? (the |his |her |their )?(storage|quota|mailbox size)",
    r"insufficient (system )?storage|out of (disk )?space|disk full|storage (full|space)",
    r"gr[ae]y ?list",
    r"try (again )?later|please retry|temporar(il)?y|transient",
    r"too many (connections|messages|concurrent)|rate ?limit|throttl",
    r"timed? ?out|connection (was )?(refused|reset|closed|lost|dropped)",
    r"not yet been delivered|delivery (is |has been )?delayed|still trying|will (be )?retr|"
    r"will continue (to try|trying)|attempts will continue|not been collected",
    r"failed (after )?\d+ attempts|maximum (delivery )?attempts|queue period|not reachable",
    r"not found, try again|too many hops|\bloop|could not find a gateway|please (try to )?resend|"
    r"command died",
    r"service (is )?(not available|unavailable)|system busy|resources? (temporarily )?unavailable",
    r"mail ?box (is )?(busy|locked)",
)
# The address itself does not exist (or never will). `_STRONG_HARD` is the subset clear enough
# to outweigh a 5.7.x status (some servers answer "5.7.1 user unknown").
_STRONG_HARD = _words(
    r"user (is )?unknown|unknown (user|recipient|mailbox|local[- ]part|address)",
    r"no such (user|mailbox|recipient|address|account|person)",
    r"(user|mailbox|recipient|address|account|addressee)\b[^.;:]{0,40}"
    r"\b(does not|doesn'?t|did not) exist",
    r"(user|mailbox|recipient|account|address) not found|mail ?box not found",
    r"recipient unknown|addressee unknown|unknown or illegal alias",
    r"no mail ?box here|not a valid (mailbox|recipient|user)|invalid (mailbox|recipient)",
    r"nonexistent (user|mailbox|recipient|address)|user not known|invalid (final delivery )?userid",
    r"no final (e-?mail )?delivery point|no matches to nameserver query|did not (exactly )?match",
    r"n'existe pas|existiert nicht|unbekannt",
    r"doesn'?t have an? [\w.-]+ account",
)
_HARD_WORDS = _words(
    _STRONG_HARD.pattern,
    r"recipient (address )?rejected|invalid (address|e-?mail)|bad destination",
    r"account (has been |is )?(disabled|deactivated|closed|suspended|terminated|deleted)|"
    r"mail ?box (has been |is )?(disabled|deactivated|closed|removed|deleted|inactive)",
    r"(no longer|not) (active|valid|in use|available)",
    r"unrouteable|unroutable|no such domain|domain (does not exist|not found)|"
    r"host (or domain name )?not found|name service error|no mx|null mx",
    r"not our customer|not listed in|no valid recipients|address (is )?not (valid|allowed)",
)
_FAILED_ACTIONS = {"failed", "failure"}
_NO_BOUNCE_ACTIONS = {"delivered", "relayed", "expanded"}


@dataclass(frozen=True)
class _Status:
    klass: int
    subject: int
    detail: int

    @property
    def code(self) -> str:
        return f"{self.klass}.{self.subject}.{self.detail}"

    @property
    def specificity(self) -> int:
        return (self.subject != 0) + (self.detail != 0)


def enhanced_statuses(text: str) -> list[str]:
    """The RFC 3463 status codes in `text`, in order ("5.1.1")."""
    return [".".join(match.groups()) for match in _ENHANCED.finditer(text[:_MAX_TEXT])]


def _statuses(texts: list[str]) -> list[_Status]:
    found = []
    for text in texts:
        for match in _ENHANCED.finditer(text[:_MAX_TEXT]):
            found.append(_Status(*(int(group) for group in match.groups())))
    return found


def _basic_code(texts: list[str]) -> int | None:
    for text in texts:
        stripped = text.strip()[:_MAX_TEXT]
        if re.fullmatch(r"[245]\d\d", stripped):
            return int(stripped)
        if match := _BASIC.search(stripped):
            return int(match.group(1))
    return None


def _by_words(text: str) -> tuple[BounceClass, str] | None:
    """What the reply's words say, the temporary before the refused before the absent: "mailbox
    full" is never hard, a spam block mentioning the recipient is not the recipient's fault."""
    for kind, pattern in ((S, _SOFT_WORDS), (B, _BLOCK_WORDS), (H, _HARD_WORDS)):
        if match := pattern.search(text):
            return kind, match.group(0).lower()
    return None


def _permanent_status(status: _Status, words: str) -> tuple[BounceClass, str] | None:
    """A 5.x.x status's class, or None when it takes the words to tell."""
    if status.subject in _PERMANENT_SUBJECT:
        kind = _PERMANENT_SUBJECT[status.subject]
        if status.subject == 7 and _STRONG_HARD.search(words) and not _BLOCK_WORDS.search(words):
            return H, "status 5.7.x naming an unknown recipient"
        return kind, f"status {status.code}"
    if status.detail == 0 or (status.subject, status.detail) in _BY_WORDS or status.subject == 5:
        return None  # X.N.0, 5.5.x and the few in _BY_WORDS
    permanent = _PERMANENT.get((status.subject, status.detail))
    return (permanent, f"status {status.code}") if permanent is not None else None


def classify_bounce(
    *,
    status: str = "",
    diagnostic: str = "",
    smtp_code: int | None = None,
    text: str = "",
    action: str = "",
) -> BounceVerdict:
    """What a failure report says about the address (see the module docstring). `status` is a
    DSN's Status field (or an ESP's status), `diagnostic` its Diagnostic-Code (or the MTA's
    response), `smtp_code` a reply code known apart, `text` the rest of the reply or the
    bounce's words, `action` a DSN's Action."""
    action = action.strip().split(" ", 1)[0].lower()
    texts = [status, diagnostic, text]
    words = " ".join(" ".join(part.split()) for part in (diagnostic, text, status) if part)
    words = words[:_MAX_TEXT]
    statuses = _statuses(texts)
    best = max(statuses, key=lambda found: found.specificity, default=None)
    basic = smtp_code if smtp_code else _basic_code(texts)
    code = best.code if best else (str(basic) if basic else "")

    if action in _NO_BOUNCE_ACTIONS:
        # Delivered with a failing status contradicts itself: no bounce, and no delivery.
        agrees = best is None or best.klass == 2
        return BounceVerdict(N, code, f"action {action}", certain=agrees)
    if action == "delayed":
        return BounceVerdict(S, code, "delayed")
    if best is not None and best.klass == 2 and action not in _FAILED_ACTIONS:
        return BounceVerdict(N, code, f"status {best.code}")
    if best is not None and best.klass == 4:
        return BounceVerdict(S, code, f"status {best.code}")
    if best is not None and best.klass == 5:
        decided = _permanent_status(best, words)
        if decided is not None:
            return BounceVerdict(decided[0], code, decided[1])
    if basic is not None and 400 <= basic < 500:
        return BounceVerdict(S, code, f"reply {basic}")
    if basic is not None and 200 <= basic < 300 and action not in _FAILED_ACTIONS:
        return BounceVerdict(N, code, f"reply {basic}")
    by_words = _by_words(words)
    if by_words is not None:
        return BounceVerdict(by_words[0], code, f"text: {by_words[1]}"[:80])
    if basic is not None and basic >= 500:
        kind = H if basic in _HARD_BASIC else S
        return BounceVerdict(kind, code, f"reply {basic}")
    if best is not None and best.klass == 5:
        # 5.0.0, 5.N.0 and the others above with no telling words nor reply code: permanent,
        # but not shown to be about the address.
        return BounceVerdict(S, code, f"status {best.code} says too little", certain=False)
    if action in _FAILED_ACTIONS:
        return BounceVerdict(S, code, "failed without a status", certain=False)
    return BounceVerdict(N, code, "no failure found", certain=False)
