"""CSV files we hand to senders, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.utils import translation

from config.coded_text import render
from lists.models import ImportJob

# A cell starting with one of these is a formula to Excel and LibreOffice (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str:
    """The cell as text, with a leading apostrophe when a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """Stream CSV text line by line, every cell spreadsheet-safe."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)  # a BOM so Excel reads UTF-8
    for row in rows:
        yield writer.writerow([spreadsheet_safe(cell) for cell in row])


def import_issues_csv(job: ImportJob) -> Iterator[str]:
    """The import's error report: every row skipped or flagged, with the reason in the
    language active now (the request's: the rows are streamed after the view returns)."""
    rows = job.issues.order_by("row", "id").values_list(
        "row", "email", "reason", "skipped", "suppressed"
    )
    language = translation.get_language()

    def reason_of(reason) -> str:
        with translation.override(language):
            return render(reason)

    return csv_lines(
        ["row", "email", "reason", "outcome"],
        (
            (row, email, reason_of(reason), _OUTCOMES[skipped, suppressed])
            for row, email, reason, skipped, suppressed in rows.iterator(chunk_size=2000)
        ),
    )


# (skipped, suppressed) -> the report's outcome: suppressed rows are skipped ones the file
# marks as opted out, whose addresses were added to the suppressions.
_OUTCOMES = {
    (True, False): "skipped",
    (True, True): "suppressed",
    (False, False): "imported",
    (False, True): "imported",
}


# The columns of a list in the account's export: the subscriber, then the consent they gave
# (the latest "granted" record: how, when, from where, what they were told, the proof).
ACCOUNT_EXPORT_HEADER = [
    "email",
    "name",
    "phone",
    "status",
    "subscribed_at",
    "unsubscribed_at",
    "attributes",
    "consent_source",
    "consent_obtained_at",
    "consent_ip",
    "consent_user_agent",
    "consent_purpose",
    "consent_form_url",
    "consent_proof",
]


def _list_rows(mailing_list) -> Iterator[list]:
    import json

    from django.db.models import OuterRef, Subquery

    from lists.models import ConsentRecord

    latest = ConsentRecord.objects.filter(subscriber=OuterRef("pk"), event="granted").order_by(
        "-obtained_at", "-pk"
    )
    fields = ["source", "obtained_at", "ip", "user_agent", "purpose_text", "form_url", "proof"]
    subscribers = (
        mailing_list.subscribers.order_by("pk")
        .annotate(**{f"consent_{f}": Subquery(latest.values(f)[:1]) for f in fields})
        .values_list(
            "email",
            "name",
            "phone",
            "status",
            "subscribed_at",
            "unsubscribed_at",
            "attributes",
            *[f"consent_{f}" for f in fields],
        )
    )
    for row in subscribers.iterator(chunk_size=2000):
        row = list(row)
        row[4] = row[4].isoformat() if row[4] else ""
        row[5] = row[5].isoformat() if row[5] else ""
        row[6] = json.dumps(row[6] or {}, ensure_ascii=False, sort_keys=True)
        row[8] = row[8].isoformat() if row[8] else ""
        yield row


def account_lists_zip(*, account, target) -> int:
    """Write a ZIP of the account's lists to the binary file `target`: one spreadsheet-safe
    CSV per list (ACCOUNT_EXPORT_HEADER: every subscriber with their consent record). Reads
    only the account's lists. Returns the number of lists written."""
    import zipfile

    from django.utils.text import slugify

    from lists.models import MailingList

    lists = MailingList.objects.filter(account=account).order_by("pk")
    count = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for mailing_list in lists:
            name = f"{mailing_list.pk}-{slugify(mailing_list.name) or 'list'}.csv"
            with archive.open(name, "w") as member:
                for line in csv_lines(ACCOUNT_EXPORT_HEADER, _list_rows(mailing_list)):
                    member.write(line.encode("utf-8"))
            count += 1
    return count
