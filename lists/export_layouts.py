"""What other mailing services' exports say about each row's consent, read without the database.

A file exported from Mailchimp, Sendy, listmonk, Brevo or MailerLite carries the people who left
that service's list next to those still on it: a status column (Sendy, listmonk, MailerLite, a
combined Mailchimp export), a yes/no opt-out column (Brevo's EMAIL_BLACKLISTED), Mailchimp's
UNSUB_*/CLEAN_* columns, or Mailchimp's per-status file names (`unsubscribed_members_export_*`,
`cleaned_members_export_*`). `source_status_for` finds which of these a file has; its
`standing(cells)` says what one row may become here:

- nothing (None): import the row as usual (subscribed, active, soft-bounced, unknown values);
- `Standing(suppress=<reason>)`: the person opted out, bounced or complained there: the row is not
  subscribed and its address becomes one of the account's suppressions (rule 4);
- `Standing(suppress=None)`: no consent to rely on (unconfirmed, transactional, disabled): the
  row is skipped and the address is not suppressed, so the person may still sign up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

from config.coded_text import CodedText, coded
from lists.models import SuppressionReason
from lists.parsers import cell_says_yes

UNSUBSCRIBED = SuppressionReason.UNSUBSCRIBED
HARD_BOUNCE = SuppressionReason.HARD_BOUNCE
COMPLAINED = SuppressionReason.COMPLAINED

# Status values (normalised: lower case, words separated by one space) and what they mean here.
# Soft bounces are temporary and say nothing about consent: such rows import as usual.
_SUPPRESSING_VALUES = {
    UNSUBSCRIBED: {
        "unsubscribed",
        "unsubscribe",
        "opted out",
        "opt out",
        "optout",
        "blocklisted",
        "blacklisted",
        "blocked",
        "отписан",
        "отписался",
        "отписана",
    },
    HARD_BOUNCE: {"cleaned", "bounced", "hard bounced", "hard bounce", "hardbounce"},
    COMPLAINED: {
        "marked as spam",
        "spam",
        "junk",
        "complained",
        "complaint",
        "spam complaint",
        "abuse",
    },
}
_NOT_CONFIRMED_VALUES = {"unconfirmed", "pending", "not confirmed", "не подтвержден"}
_NOT_SUBSCRIBED_VALUES = {
    "transactional",
    "nonsubscribed",
    "non subscribed",
    "not subscribed",
    "archived",
}
_DISABLED_VALUES = {"disabled"}

# Header names (compact: lower case, letters and digits only) of the columns read here.
STATUS_HEADERS = {
    "status",
    "memberstatus",
    "subscriberstatus",
    "subscriptionstatus",
    "emailstatus",
    "статус",
    "статусподписки",
}
OPT_OUT_HEADERS = {
    "emailblacklisted",
    "emailblocklisted",
    "blacklisted",
    "blocklisted",
    "emailoptout",
    "optedout",
    "optout",
}
_MAILCHIMP_UNSUB = re.compile(r"unsub(time|campaigntitle|campaignid|reason|reasonother)")
_MAILCHIMP_CLEAN = re.compile(r"clean(time|campaigntitle|campaignid)")
# Mailchimp names the files of an audience export after the status of the people in them.
_MAILCHIMP_FILES = re.compile(r"(nonsubscribed|unsubscribed|cleaned)_members_export", re.I)


@dataclass(frozen=True)
class Standing:
    """Why a row is not subscribed: `suppress` is the suppression reason, or None to only skip."""

    suppress: SuppressionReason | None
    reason: CodedText  # lists/texts.py: lists.source.*


@dataclass(frozen=True)
class SourceStatus:
    """Where a file keeps each row's standing in the service it came from."""

    source: str  # "Mailchimp", "Sendy", "listmonk", "Brevo", "MailerLite" or ""
    status_at: int | None = None
    status_header: str = ""
    opt_out_at: int | None = None
    opt_out_header: str = ""
    # Mailchimp: (index, header) of the columns whose filled cell means unsubscribed / cleaned,
    # and the status its file name gives every row.
    unsub_at: tuple[tuple[int, str], ...] = ()
    clean_at: tuple[tuple[int, str], ...] = ()
    file_status: str = ""
    filename: str = ""

    @property
    def is_empty(self) -> bool:
        return (
            self.status_at is None
            and self.opt_out_at is None
            and not self.unsub_at
            and not self.clean_at
            and not self.file_status
        )

    @property
    def columns_read(self) -> list[str]:
        """The headers of the columns read, in file order (for the mapping step)."""
        found = [(self.status_at, self.status_header), (self.opt_out_at, self.opt_out_header)]
        found += [*self.unsub_at, *self.clean_at]
        return [header for index, header in sorted(found, key=_first) if index is not None]

    def standing(self, cells: list[str]) -> Standing | None:
        """What the row `cells` may become here (see the module docstring)."""
        width = len(cells)

        def cell(index: int | None) -> str:
            return cells[index].strip() if index is not None and index < width else ""

        source = f"{self.source} " if self.source else ""
        if (flag := cell(self.opt_out_at)) and cell_says_yes(flag):
            # A column and its cell: the file's own words.
            return _suppressed(UNSUBSCRIBED, f"{source}{self.opt_out_header} '{flag}'")
        if self.status_at is not None:
            value = cell(self.status_at)
            if value:
                where = (
                    coded("lists.source.where.source_status", source=self.source, value=value)
                    if self.source
                    else coded("lists.source.where.status", value=value)
                )
                return _from_status(value, where)
        for index, header in self.clean_at:
            if value := cell(index):
                return _suppressed(HARD_BOUNCE, _mailchimp_column("cleaned", header, value))
        for index, header in self.unsub_at:
            if value := cell(index):
                return _suppressed(UNSUBSCRIBED, _mailchimp_column("unsubscribed", header, value))
        if self.file_status and self.status_at is None:
            return _from_status(
                self.file_status,
                coded(
                    "lists.source.where.mailchimp_file",
                    status=self.file_status,
                    file=self.filename,
                ),
            )
        return None


def source_status_for(header: list[str], *, filename: str = "") -> SourceStatus:
    """Find the columns (and, for Mailchimp, the file name) that carry each row's standing in
    the service the file was exported from. Pure: reads only the header and the name."""
    compact = [_compact(cell) for cell in header]
    names = set(compact)
    status_at = next((i for i, name in enumerate(compact) if name in STATUS_HEADERS), None)
    opt_out_at = next((i for i, name in enumerate(compact) if name in OPT_OUT_HEADERS), None)
    unsub_at = tuple(
        (i, header[i]) for i, name in enumerate(compact) if _MAILCHIMP_UNSUB.fullmatch(name)
    )
    clean_at = tuple(
        (i, header[i]) for i, name in enumerate(compact) if _MAILCHIMP_CLEAN.fullmatch(name)
    )
    file_status = ""
    base = PurePath(filename).name
    if match := _MAILCHIMP_FILES.match(base):
        file_status = {"nonsubscribed": "transactional"}.get(
            match.group(1).lower(), match.group(1).lower()
        )
    return SourceStatus(
        source=_source_name(names, file_status=file_status),
        status_at=status_at,
        status_header=header[status_at] if status_at is not None else "",
        opt_out_at=opt_out_at,
        opt_out_header=header[opt_out_at] if opt_out_at is not None else "",
        unsub_at=unsub_at,
        clean_at=clean_at,
        file_status=file_status,
        filename=base,
    )


def _source_name(names: set[str], *, file_status: str) -> str:
    """The service whose export layout the header matches, by columns only it writes."""
    if names & {"emailblacklisted", "smsblacklisted"}:
        return "Brevo"
    if file_status or names & {"leid", "euid", "memberrating", "optintime", "confirmtime"}:
        return "Mailchimp"
    if {"uuid", "email", "attributes", "status"} <= names:
        return "listmonk"
    if {"joined", "status"} <= names:
        return "Sendy"
    if "subscriber" in names or {"subscribedat", "status"} <= names:
        return "MailerLite"
    return ""


def _first(pair: tuple) -> int:
    return -1 if pair[0] is None else pair[0]


def _mailchimp_column(status: str, header: str, value: str) -> CodedText:
    return coded("lists.source.where.mailchimp_column", status=status, column=header, value=value)


def _from_status(value: str, where: CodedText | str) -> Standing | None:
    normalised = _normalise(value)
    for reason, values in _SUPPRESSING_VALUES.items():
        if normalised in values:
            return _suppressed(reason, where)
    if normalised in _NOT_CONFIRMED_VALUES:
        return Standing(None, coded("lists.source.not_confirmed", where=where))
    if normalised in _NOT_SUBSCRIBED_VALUES:
        return Standing(None, coded("lists.source.not_subscribed", where=where))
    if normalised in _DISABLED_VALUES:
        return Standing(None, coded("lists.source.disabled", where=where))
    return None


def _suppressed(reason: SuppressionReason, where: CodedText | str) -> Standing:
    # lists.source.unsubscribed, lists.source.hard_bounce, lists.source.complained
    return Standing(reason, coded(f"lists.source.{str(reason)}", where=where))


def _normalise(value: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", value.casefold().replace("ё", "е")).split())


def _compact(cell: str) -> str:
    return re.sub(r"[\W_]+", "", cell.casefold().replace("ё", "е"))
