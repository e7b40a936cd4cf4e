"""CSV files we hand to senders, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

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
    """The import's error report: every row skipped or flagged, with the reason."""
    rows = job.issues.order_by("row", "id").values_list(
        "row", "email", "reason", "skipped", "suppressed"
    )
    return csv_lines(
        ["row", "email", "reason", "outcome"],
        (
            (row, email, reason, _OUTCOMES[skipped, suppressed])
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
