"""Streaming, defensive readers for subscriber import files: .txt, .csv, .xls and .xlsx.

Every problem caused by the file itself surfaces as `ImportFileError`, whose message is safe to show
the user. Rows are streamed, so memory stays flat however long the file is (.xls aside: xlrd loads
the whole workbook, which the size cap of `check_file` keeps bounded).
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
import struct
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import chain, islice
from pathlib import Path
from typing import TextIO

import xlrd
from python_calamine_plus import CalamineWorkbook

from config.coded_text import CodedText, coded, render
from config.errors import ApplicationError

FORMATS = ("txt", "csv", "xls", "xlsx")

MB = 1024 * 1024
SNIFF_BYTES = 64 * 1024
ENCODING_PROBE_BYTES = 1 * MB
# The longest cell or physical line a CSV or TXT row may have.
MAX_CELL_CHARS = 1 * MB
# The widest row a file may have. Far more than any real export of contacts; the mapping step
# shows a control per column, and 10,000 columns (an 80 KB file) kept that page busy for minutes.
MAX_COLUMNS = 500
# Zip-bomb limits for .xlsx, checked against the zip directory before anything is unpacked.
MAX_XLSX_UNCOMPRESSED_BYTES = 500 * MB
MAX_XLSX_MEMBERS = 10_000
MAX_XLSX_MEMBER_RATIO = 100
MAX_XLSX_RATIO_MEMBER_BYTES = 10 * MB
# The reader streams the sheet but holds its shared-strings table (about twice its unpacked
# size: 70 MB of them, the two million distinct strings of a full 1,048,576-row sheet, took
# 130 MB), so the table is capped to keep an import's memory under 300 MB.
MAX_XLSX_SHARED_STRINGS_BYTES = 100 * MB

CSV_DELIMITERS = ",;\t|"
XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_WHITESPACE_BYTES = b" \t\r\n\x0b\x0c"

# The English words of a few refusals (lists/texts.py has them all, coded); tests compare them.
XLSX_DAMAGED = "This .xlsx file is damaged or not a spreadsheet."
XLS_DAMAGED = "This .xls file is damaged or not a spreadsheet."
NOT_TEXT = "This file is not a text file; save it as CSV (UTF-8) or plain text and try again."
NO_DATA = "The file has no rows with data."

# Process-wide, but it only raises the csv module's 128 KB default.
csv.field_size_limit(MAX_CELL_CHARS)

_ADDRESS_LIKE = re.compile(r"[^\s@]@[^\s@]+\.[^\s@]")
_WORD = re.compile(r"[^\W\d_]+")


class ImportFileError(ApplicationError):
    """The file cannot be imported; `message` is safe to show the user. field="file".

    Given coded text (lists/texts.py), `message` is it rendered in the active language and
    `coded` keeps it, so an import that fails part-way stores the code, not the words."""

    def __init__(
        self, message: str | CodedText, *, field: str | None = "file", extra: dict | None = None
    ):
        self.coded = message if isinstance(message, dict) else None
        super().__init__(render(message), field=field, extra=extra)


class _LineTooLong(Exception):
    """A physical line is longer than MAX_CELL_CHARS; turned into ImportFileError with a row."""


@dataclass
class Table:
    """A file's rows, streamed.

    `rows` yields `(row_number, cells)` for the non-blank rows only: `row_number` is the 1-based
    row as a spreadsheet program numbers it (for CSV, the record; for TXT, the line); cells are
    stripped strings with trailing empty cells dropped, so rows may be shorter than `header`.

    `header_in_file` is False for TXT, whose lines are all data and whose header is always
    ["email", "name"]. For CSV, XLS and XLSX the header is found among the first
    HEADER_SCAN_ROWS rows (see `find_header`): title rows above it are left out, and
    `header_row` is its row number. When the first row already holds an address there is no
    header: every row is data and `header` is ["column 1", "column 2", ...]. Either way the
    header is as wide as the widest of the first rows (padded with "" where a header cell is
    missing), so that every column those rows fill can be mapped.
    """

    header: list[str]
    header_in_file: bool
    rows: Iterator[tuple[int, list[str]]]
    header_row: int | None = None


def detect_format(*, filename: str, path: Path) -> str:
    """Return one of FORMATS for the file's extension once its content is checked to match.

    Raises ImportFileError for an unknown extension, an empty or whitespace-only file, and content
    that is not what the extension says (zip for .xlsx, OLE2 for .xls, no NUL bytes for text).
    """
    suffix = Path(filename).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        kind = f"Files of type .{suffix}" if suffix else "Files without an extension"
        raise ImportFileError(
            f"{kind} cannot be imported; upload a .txt, .csv, .xls or .xlsx file."
        )
    if _is_blank(path):
        raise ImportFileError("The file is empty.")
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if suffix == "xlsx":
        if head.startswith(XLS_MAGIC):
            raise ImportFileError(
                "This file is named .xlsx but is password-protected or an old .xls file; "
                "remove the password or save it as .xlsx again."
            )
        if not head.startswith(XLSX_MAGIC):
            raise ImportFileError(coded("lists.file.xlsx_damaged"))
    elif suffix == "xls":
        if head.startswith(XLSX_MAGIC):
            raise ImportFileError(
                "This file is named .xls but is an .xlsx spreadsheet; rename it to .xlsx."
            )
        if not head.startswith(XLS_MAGIC):
            raise ImportFileError(coded("lists.file.xls_damaged"))
    elif b"\x00" in head:
        raise ImportFileError(coded("lists.file.not_text"))
    return suffix


def check_file(*, path: Path, fmt: str, max_bytes: int) -> None:
    """Refuse a file over max_bytes, an .xlsx zip bomb or broken zip, and an unreadable .xls.

    Reads only the zip directory of an .xlsx (nothing is unpacked). Raises only ImportFileError.
    """
    size = path.stat().st_size
    if size > max_bytes:
        raise ImportFileError(
            f"The file is {_format_size(size)}; the limit is {_format_size(max_bytes)}."
        )
    if fmt == "xlsx":
        _check_xlsx_zip(path)
    elif fmt == "xls":
        with _open_xls(path):
            pass


@contextmanager
def open_table(*, path: Path, fmt: str) -> Iterator[Table]:
    """Open the file and yield a Table that streams its rows; closes the file on exit.

    Raises ImportFileError when the file has no non-blank row, and from `rows` when the file turns
    out to be unreadable part-way or has a row of more than MAX_COLUMNS cells.
    """
    with ExitStack() as stack:
        if fmt == "txt":
            records = _txt_records(_open_text(path, stack)[0])
        elif fmt == "csv":
            text, sample = _open_text(path, stack)
            records = _csv_records(_guarded_lines(text), _detect_delimiter(sample))
        elif fmt == "xlsx":
            records = _xlsx_records(path, stack)
        elif fmt == "xls":
            records = _xls_records(stack.enter_context(_open_xls(path)))
        else:
            raise ValueError(f"unknown format {fmt!r}")

        records = _width_checked(records)
        if fmt == "txt":
            first = next(records, None)
            if first is None:
                raise ImportFileError(coded("lists.file.no_data"))
            yield Table(
                header=["email", "name"], header_in_file=False, rows=chain([first], records)
            )
            return
        head = list(islice(records, HEADER_SCAN_ROWS))
        if not head:
            raise ImportFileError(coded("lists.file.no_data"))
        at = find_header([cells for _, cells in head])
        data = head if at is None else head[at + 1 :]
        width = max(len(cells) for _, cells in head[at or 0 :])
        if at is None:
            header = [f"column {number}" for number in range(1, width + 1)]
            yield Table(header=header, header_in_file=False, rows=chain(data, records))
        else:
            row_number, header = head[at]
            yield Table(
                header=header + [""] * (width - len(header)),
                header_in_file=True,
                rows=chain(data, records),
                header_row=row_number,
            )


def _width_checked(
    records: Iterator[tuple[int, list[str]]],
) -> Iterator[tuple[int, list[str]]]:
    for row_number, cells in records:
        if len(cells) > MAX_COLUMNS:
            raise ImportFileError(
                coded(
                    "lists.file.too_many_columns",
                    row=row_number,
                    columns=len(cells),
                    limit=MAX_COLUMNS,
                )
            )
        yield row_number, cells


def count_rows(*, path: Path, fmt: str) -> int:
    """Number of data rows `open_table` yields (header and blank rows excluded), in one pass."""
    with open_table(path=path, fmt=fmt) as table:
        return sum(1 for _ in table.rows)


# How much of a file (of an .xlsx sheet, unpacked) `estimate_rows` reads.
ESTIMATE_SAMPLE_BYTES = 256 * 1024


def estimate_rows(*, path: Path, fmt: str) -> tuple[int, bool]:
    """(rows, exact): how many rows the file has, for the progress bar before it is read.

    An import reads its file once, as it imports it, so the count is only known at the end:
    this estimates it from the file's size and the rows of its first ESTIMATE_SAMPLE_BYTES
    (for an .xlsx, of the worksheet imported, the first, unpacked). An .xls is counted exactly (xlrd
    reads the whole workbook anyway, and the format holds at most 65,536 rows).
    """
    if fmt == "xls":
        return count_rows(path=path, fmt=fmt), True
    if fmt == "xlsx":
        try:
            with zipfile.ZipFile(path) as archive:
                first = _first_sheet_member(archive)
                if first is None:
                    return 1, False
                size = first.file_size
                with archive.open(first) as sheet:
                    sample = sheet.read(ESTIMATE_SAMPLE_BYTES)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error):
            return 1, False  # the reader says what is wrong with the file
        rows = sample.count(b"<row ") + sample.count(b"<row>")
    else:
        size = path.stat().st_size
        with path.open("rb") as handle:
            sample = handle.read(ESTIMATE_SAMPLE_BYTES)
        rows = sample.count(b"\n") + (0 if sample.endswith(b"\n") else 1)
    if not sample or not rows:
        return 1, False
    return max(1, round(rows * size / len(sample))), False


# How much of the workbook part and its relationships `_first_sheet_member` reads: a sheet list
# is a few KB; a part past this is not a workbook any reader would finish.
_WORKBOOK_PART_BYTES = 1 * MB
_CONTENT_TYPE_WORKBOOK = re.compile(
    rb'PartName="/?([^"]+)"\s+ContentType="application/vnd\.[^"]*\.sheet\.main\+xml"'
    rb'|ContentType="application/vnd\.[^"]*\.sheet\.main\+xml"\s+PartName="/?([^"]+)"'
)
_FIRST_SHEET_ID = re.compile(rb"<(?:\w+:)?sheet\b[^>]*?\s\w+:id=\"([^\"]+)\"")
_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b([^>]*)>")
_ATTRIBUTE = re.compile(rb'(\w+)="([^"]*)"')


def _first_sheet_member(archive: zipfile.ZipFile) -> zipfile.ZipInfo | None:
    """The zip member of the workbook's first worksheet, the one an import reads (the reader
    opens sheet index 0: the first <sheet> of the workbook part, through its relationships),
    whatever its file is named. Falls back to the largest worksheet part when the workbook
    does not say (the estimate is only for the progress bar); None when there is none."""
    members = {member.filename: member for member in archive.infolist()}
    try:
        workbook = "xl/workbook.xml"
        if "[Content_Types].xml" in members:
            with archive.open("[Content_Types].xml") as handle:
                found = _CONTENT_TYPE_WORKBOOK.search(handle.read(_WORKBOOK_PART_BYTES))
            if found:
                workbook = (found.group(1) or found.group(2)).decode()
        folder, _, name = workbook.rpartition("/")
        with archive.open(workbook) as handle:
            first = _FIRST_SHEET_ID.search(handle.read(_WORKBOOK_PART_BYTES))
        with archive.open(f"{folder}/_rels/{name}.rels".lstrip("/")) as handle:
            relationships = handle.read(_WORKBOOK_PART_BYTES)
        first_id = first.group(1) if first else None
        for relationship in _RELATIONSHIP.finditer(relationships) if first_id else ():
            attributes = dict(_ATTRIBUTE.findall(relationship.group(1)))
            if attributes.get(b"Id") == first_id and b"Target" in attributes:
                target = attributes[b"Target"].decode()
                path = target.lstrip("/") if target.startswith("/") else f"{folder}/{target}"
                if (member := members.get(path.lstrip("/"))) is not None:
                    return member
    except (KeyError, UnicodeDecodeError):
        pass  # no such part: the reader will say what is wrong with the file
    sheets = [
        member
        for name, member in members.items()
        if name.startswith("xl/worksheets/") and name.endswith(".xml")
    ]
    return max(sheets, key=lambda member: member.file_size) if sheets else None


# How many of a file's first non-blank rows are searched for its header (title rows above it).
HEADER_SCAN_ROWS = 20


def has_header(header: list[str]) -> bool:
    """False when the row looks like data (a cell is an address, bare or as `Name <address>`)."""
    return not any(_is_address_cell(cell) for cell in header)


def _is_address_cell(cell: str) -> bool:
    # A whole cell, not a sentence that mentions one ("Exported by admin@example.com"): a title
    # row must not pass for the first row of data.
    cell = cell.strip()
    if cell.endswith(">") and "<" in cell:
        cell = cell[cell.rindex("<") + 1 : -1]
    return bool(_ADDRESS_LIKE.search(cell)) and not any(char.isspace() for char in cell)


def find_header(rows: list[list[str]]) -> int | None:
    """The index of the header among a file's first rows, or None when the first is data.

    The header is the row just above the first row of data (one holding an address), unless a
    row above that names an e-mail column and it does not (a note between header and data);
    the rows above the header are titles. With no row of data among them, the first row that
    names an e-mail column is the header, else the first row.
    """
    first_data = next((i for i, cells in enumerate(rows) if not has_header(cells)), None)
    if first_data == 0:
        return None
    above = rows if first_data is None else rows[:first_data]
    naming = [i for i, cells in enumerate(above) if "email" in _exact_columns(cells)]
    if first_data is None:
        return naming[0] if naming else 0
    if naming and naming[-1] != first_data - 1:
        return naming[-1]
    return first_data - 1


def _exact_columns(header: list[str]) -> set[str]:
    """The fields whose known names appear, whole, among the header's cells."""
    compact = {_normalise_header(cell)[1] for cell in header}
    return {field for field, names in _COLUMN_NAMES.items() if compact & names}


_COLUMN_NAMES = {
    "email": {
        "email",
        "mail",
        "emailaddress",
        "mailaddress",
        "emailадрес",
        "адресemail",
        "почта",
        "элпочта",
        "электроннаяпочта",
        "адресэлектроннойпочты",
        "адреспочты",
        "электронныйадрес",
        "емейл",
        "имейл",
        "емэйл",
        "мейл",
    },
    # A whole name in one column; with a last-name column beside it, it is the first name
    # (MailerLite's "name" + "last_name").
    "name": {
        "name",
        "fullname",
        "displayname",
        "contactname",
        "имя",
        "фио",
        "полноеимя",
        "имяфамилия",
        "фамилияимя",
        "фамилияимяотчество",
    },
    "phone": {
        "phone",
        "telephone",
        "tel",
        "mobile",
        "mobilephone",
        "mobilenumber",
        "cellphone",
        "phonenumber",
        "sms",  # Brevo keeps the mobile number in the SMS attribute
        "телефон",
        "тел",
        "мобильный",
        "мобильныйтелефон",
        "номертелефона",
        "сотовый",
    },
}
# Split names (Mailchimp "First Name"/"Last Name", Brevo FIRSTNAME/LASTNAME): combined into the
# name on import. The names above that always mean the whole name are never combined.
_FIRST_NAMES = {"firstname", "first", "fname", "givenname", "forename", "имя"}
_LAST_NAMES = {"lastname", "last", "lname", "surname", "familyname", "фамилия"}
_WHOLE_NAMES = _COLUMN_NAMES["name"] - {"name", "имя"}
# Words that mark a header as being about a field when the whole header is not a known name
# ("Work e-mail", "Имя клиента"), and words that rule that out ("Company name").
_COLUMN_WORDS = {
    "email": {"email", "mail", "почта", "почты", "емейл", "имейл", "мейл"},
    "name": {"name", "имя", "фио"},
    "phone": {"phone", "telephone", "tel", "mobile", "телефон", "тел", "мобильный", "сотовый"},
}
_NOT_COLUMN_WORDS = {
    "name": {"company", "user", "username", "domain", "file", "last", "middle", "компании"},
}


def guess_column_map(header: list[str], sample: list[list[str]] | None = None) -> dict[str, int]:
    """Map 'email', 'name', 'last_name', 'phone' and 'age_confirmed' to the index of the header
    cell that most likely holds each.

    A field is missing from the result when no header cell looks like it; an exact known name
    wins over a header that merely mentions the field, the leftmost wins a tie, and no column is
    used twice. With no header cell naming the e-mail address, the column of `sample` rows that
    most often holds one is taken (MailerLite heads it "Subscriber"). A first-name column
    (or a plain "name") with a last-name column beside it maps to 'name' and 'last_name',
    which the import joins into the name.
    """
    normalised = [_normalise_header(cell) for cell in header]
    compact = [name for _, name in normalised]
    mapping: dict[str, int] = {}
    for field in ("email", "phone", "name"):
        used = set(mapping.values())
        exact = [i for i, name in enumerate(compact) if name in _COLUMN_NAMES[field]]
        if field == "name":
            whole = [i for i in exact if compact[i] in _WHOLE_NAMES]
            first = [i for i, name in enumerate(compact) if name in _FIRST_NAMES]
            exact = whole + first + exact
        loose = [
            i
            for i, (words, _) in enumerate(normalised)
            if words & _COLUMN_WORDS[field] and not words & _NOT_COLUMN_WORDS.get(field, set())
        ]
        for index in chain(exact, loose):
            if index not in used:
                mapping[field] = index
                break
        if (
            field == "email"
            and "email" not in mapping
            and (found := _address_column(sample or [])) is not None
        ):
            mapping["email"] = found
    name_at = mapping.get("name")
    if name_at is not None and compact[name_at] not in _WHOLE_NAMES:
        used = set(mapping.values())
        last = [i for i, name in enumerate(compact) if name in _LAST_NAMES and i not in used]
        if last:
            mapping["last_name"] = last[0]
    used = set(mapping.values())
    age = [i for i, name in enumerate(compact) if name in _AGE_CONFIRMED_NAMES and i not in used]
    if age:
        mapping["age_confirmed"] = age[0]
    return mapping


# The column that says a person confirmed being 18 or older (adult-content lists), and the
# cells that say yes; anything else, an empty cell included, is no.
_AGE_CONFIRMED_NAMES = {
    "ageconfirmed",
    "ageconfirmation",
    "over18",
    "adult",
    "18",
    "возрастподтвержден",
    "подтверждениевозраста",
    "старше18",
}
_YES = {"yes", "y", "true", "1", "x", "on", "да", "д", "+", "✓", "✔"}


def cell_says_yes(value: str) -> bool:
    """True when a yes/no cell says yes (yes, y, true, 1, x, on, да, ✓): an age_confirmed
    column, an export's opt-out flag."""
    return (value or "").strip().casefold() in _YES


def _address_column(sample: list[list[str]]) -> int | None:
    """The column in which most of the rows hold an address (at least half of them)."""
    counts: dict[int, int] = {}
    for cells in sample:
        for index, cell in enumerate(cells):
            if _is_address_cell(cell):
                counts[index] = counts.get(index, 0) + 1
    if not counts:
        return None
    best = max(counts, key=lambda index: (counts[index], -index))
    return best if counts[best] * 2 >= len(sample) else None


def _normalise_header(cell: str) -> tuple[set[str], str]:
    text = cell.casefold().replace("ё", "е")
    text = re.sub(r"\be[\W_]*mail", "email", text)
    words = re.sub(r"[\W_]+", " ", text).split()
    return set(words), "".join(words)


def _is_blank(path: Path) -> bool:
    with path.open("rb") as handle:
        chunk = handle.read(SNIFF_BYTES).removeprefix(codecs.BOM_UTF8)
        while chunk:
            if chunk.translate(None, _WHITESPACE_BYTES):
                return False
            chunk = handle.read(SNIFF_BYTES)
    return True


def _format_size(size: int) -> str:
    # Rounded up, so a file just over the limit never reads as equal to it.
    for unit, name in ((MB, "MB"), (1024, "KB")):
        if size >= unit:
            return f"{math.ceil(size * 10 / unit) / 10:g} {name}"
    return f"{size} bytes"


# --- .xlsx -------------------------------------------------------------------------------------


def _check_xlsx_zip(path: Path) -> None:
    with path.open("rb") as handle:
        # ZipFile builds an object per directory entry, so refuse a huge directory before that.
        entries, directory_size = _zip_directory_size(handle)
        if entries > MAX_XLSX_MEMBERS or directory_size > MAX_XLSX_MEMBERS * 1024:
            raise ImportFileError("This .xlsx file has too many parts to be a spreadsheet.")
        try:
            with zipfile.ZipFile(handle) as archive:
                members = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error) as exc:
            raise ImportFileError(coded("lists.file.xlsx_damaged")) from exc
    if len(members) > MAX_XLSX_MEMBERS:
        raise ImportFileError("This .xlsx file has too many parts to be a spreadsheet.")
    # zipfile never unpacks more than a member's declared size (a lying header fails its CRC
    # check instead), so the declared sizes bound what the reader can be made to read.
    if sum(member.file_size for member in members) > MAX_XLSX_UNCOMPRESSED_BYTES:
        limit = _format_size(MAX_XLSX_UNCOMPRESSED_BYTES)
        raise ImportFileError(
            f"This .xlsx file unpacks to more than {limit}; it cannot be imported."
        )
    for member in members:
        shared_strings = re.fullmatch(r"(.*/)?sharedstrings\d*\.xml", member.filename.lower())
        if shared_strings and member.file_size > MAX_XLSX_SHARED_STRINGS_BYTES:
            limit = _format_size(MAX_XLSX_SHARED_STRINGS_BYTES)
            raise ImportFileError(
                f"This .xlsx file's text (its shared strings) unpacks to more than {limit}; "
                "split it into smaller files or save it as CSV."
            )
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > MAX_XLSX_MEMBER_RATIO and member.file_size > MAX_XLSX_RATIO_MEMBER_BYTES:
            raise ImportFileError(
                "This .xlsx file is compressed suspiciously well (a zip bomb?); "
                "it cannot be imported."
            )
    names = {member.filename for member in members}
    # The workbook part is found through [Content_Types].xml; some writers name it otherwise.
    has_workbook = any(re.fullmatch(r"(.*/)?workbook\d*\.xml", name) for name in names)
    if "[Content_Types].xml" not in names or not has_workbook:
        raise ImportFileError(coded("lists.file.xlsx_damaged"))


def _zip_directory_size(handle: io.BufferedReader) -> tuple[int, int]:
    """Entry count and central directory size from the end record; (0, 0) when there is none."""
    handle.seek(0, io.SEEK_END)
    tail_length = min(handle.tell(), 22 + 0xFFFF)
    handle.seek(-tail_length, io.SEEK_END)
    tail = handle.read()
    handle.seek(0)
    position = tail.rfind(b"PK\x05\x06")
    if position < 0 or position + 22 > len(tail):
        return 0, 0
    _, _, _, entries, directory_size, _, _ = struct.unpack_from("<HHHHIIH", tail, position + 4)
    return entries, directory_size


def _xlsx_records(path: Path, stack: ExitStack) -> Iterator[tuple[int, list[str]]]:
    # python-calamine-plus streams the sheet's rows straight out of the zip: the sheet is never
    # held whole (a full 1,048,576-row sheet reads in seconds, where openpyxl's read-only mode
    # took minutes), while its shared-strings table is loaded once when the workbook opens, as
    # every reader of the format does (a cell names its string by index). check_file bounds
    # that table with the rest of the zip (MAX_XLSX_UNCOMPRESSED_BYTES). The reader raises its
    # own error types on malformed input; whatever escapes its parsing of an untrusted file
    # means the file is unreadable.
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        stack.callback(workbook.close)
        if not workbook.sheet_names:
            raise ImportFileError("This .xlsx file has no worksheet.")
        # Streamed rows ignore the <dimension> a writer records (it may be wrong): every row
        # is read and none is padded.
        stream = workbook.stream_sheet_by_index(0)
    except ImportFileError:
        raise
    except Exception as exc:
        raise ImportFileError(coded("lists.file.xlsx_damaged")) from exc
    return _spreadsheet_records(iter(stream), "lists.file.xlsx_damaged")


def _spreadsheet_records(
    values: Iterator[Sequence[object]],
    damaged: str,  # its code
) -> Iterator[tuple[int, list[str]]]:
    row_number = 0
    while True:
        try:
            row = next(values)
        except StopIteration:
            return
        except Exception as exc:  # see _xlsx_records
            raise ImportFileError(coded(damaged)) from exc
        row_number += 1
        cells = _trimmed([_cell_text(value) for value in row])
        if cells:
            yield row_number, cells


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        # A NUL can hide in a cell (.xls text is UTF-16) and PostgreSQL cannot store one: the
        # import would stop on a database error at the first such row.
        return value.replace("\x00", "").strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        # Excel shows 15 significant digits: 0.1 + 0.2 is "0.3", a phone 79161234567.0 is whole.
        return str(int(value)) if value.is_integer() else f"{value:.15g}"
    if isinstance(value, datetime):
        if value.time() == time():
            return value.date().isoformat()
        return value.isoformat(timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).strip()


def _trimmed(cells: list[str]) -> list[str]:
    while cells and not cells[-1]:
        cells.pop()
    return cells


# --- .xls --------------------------------------------------------------------------------------


@contextmanager
def _open_xls(path: Path) -> Iterator[xlrd.sheet.Sheet]:
    # xlrd, like the .xlsx reader, raises many types on malformed input (XLRDError, struct.error,
    # IndexError, AssertionError...); any of them means the file cannot be read.
    try:
        workbook = xlrd.open_workbook(str(path), on_demand=True)
    except Exception as exc:
        if "encrypted" in str(exc).lower():
            raise ImportFileError(
                "This .xls file is password-protected; remove the password and try again."
            ) from exc
        raise ImportFileError(coded("lists.file.xls_damaged")) from exc
    try:
        if workbook.nsheets == 0:
            raise ImportFileError("This .xls file has no worksheet.")
        try:
            sheet = workbook.sheet_by_index(0)
        except Exception as exc:
            raise ImportFileError(coded("lists.file.xls_damaged")) from exc
        yield sheet
    finally:
        workbook.release_resources()


def _xls_records(sheet: xlrd.sheet.Sheet) -> Iterator[tuple[int, list[str]]]:
    datemode = sheet.book.datemode
    for index in range(sheet.nrows):
        cells = [
            _xls_cell_text(kind, value, datemode)
            for kind, value in zip(sheet.row_types(index), sheet.row_values(index), strict=True)
        ]
        cells = _trimmed(cells)
        if cells:
            yield index + 1, cells


def _xls_cell_text(kind: int, value: object, datemode: int) -> str:
    if kind == xlrd.XL_CELL_DATE:
        try:
            return _cell_text(xlrd.xldate_as_datetime(value, datemode))
        except (xlrd.xldate.XLDateError, ValueError, OverflowError):
            return _cell_text(value)
    if kind == xlrd.XL_CELL_BOOLEAN:
        return _cell_text(bool(value))
    if kind == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(value, "#ERROR")
    return _cell_text(value)


# --- .csv and .txt -----------------------------------------------------------------------------


def _open_text(path: Path, stack: ExitStack) -> tuple[TextIO, str]:
    """The file as text in its guessed encoding, and a decoded sample of its first lines."""
    raw = stack.enter_context(path.open("rb"))
    head = raw.read(ENCODING_PROBE_BYTES)
    encoding = _guess_encoding(head)
    sample = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head[:SNIFF_BYTES])
    if len(head) > SNIFF_BYTES and "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]
    raw.seek(0)
    # errors="replace": the guess rests on the first megabyte, and a stray bad byte further on
    # should spoil one cell, not the import.
    text = stack.enter_context(
        io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
    )
    return text, sample


def _guess_encoding(head: bytes) -> str:
    """UTF-8 (BOM or not) when the head decodes as such, else Windows-1251 or Western."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8-sig"
    # Read as cp1251, Russian words come out wholly Cyrillic, while Western accented words come out
    # as Latin letters with a Cyrillic one inside ("José" -> "Josй"): count which kind dominates.
    cyrillic = mixed = 0
    for word in _WORD.findall(head.decode("cp1251", errors="replace")):
        if len(word) < 2 or word.isascii():
            continue
        if all("\u0400" <= char <= "\u04ff" for char in word):
            cyrillic += 1
        elif any(char.isascii() for char in word):
            mixed += 1
    if cyrillic > mixed:
        return "cp1251"
    # cp1252 is what Western Windows writes; it agrees with Latin-1 except on 0x80-0x9F.
    try:
        head.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def _detect_delimiter(sample: str) -> str:
    """The candidate that splits the sample's records into the same number (>1) of cells most often.

    csv.Sniffer is not used: its regexes are quadratic and take half a minute on a 64 KB sample with
    an unclosed quote on each line. This parses with the real reader, in linear time.
    """
    best, best_score = ",", (0.0, 0)
    for delimiter in CSV_DELIMITERS:
        reader = csv.reader(io.StringIO(sample), delimiter=delimiter, skipinitialspace=True)
        try:
            widths = [len(row) for row in reader if any(cell.strip() for cell in row)][:200]
        except csv.Error:
            continue
        if not widths:
            continue
        width = max(set(widths), key=lambda w: (widths.count(w), w))
        score = (widths.count(width) / len(widths), width)
        if width > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


def _guarded_lines(text: TextIO) -> Iterator[str]:
    while line := text.readline(MAX_CELL_CHARS + 1):
        if len(line) > MAX_CELL_CHARS:
            raise _LineTooLong
        if "\x00" in line:
            raise ImportFileError(coded("lists.file.not_text"))
        yield line


def _too_long(row_number: int) -> ImportFileError:
    limit = _format_size(MAX_CELL_CHARS)
    return ImportFileError(coded("lists.file.row_too_long", row=row_number, limit=limit))


def _csv_records(lines: Iterator[str], delimiter: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(lines, delimiter=delimiter, skipinitialspace=True)
    row_number = 0
    while True:
        row_number += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except _LineTooLong:
            raise _too_long(row_number) from None
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise _too_long(row_number) from None
            raise ImportFileError(
                coded("lists.file.not_csv", row=row_number, error=str(exc))
            ) from None
        cells = _trimmed([cell.strip() for cell in row])
        if cells:
            yield row_number, cells


def _txt_records(text: TextIO) -> Iterator[tuple[int, list[str]]]:
    lines = _guarded_lines(text)
    row_number = 0
    while True:
        row_number += 1
        try:
            line = next(lines)
        except StopIteration:
            return
        except _LineTooLong:
            raise _too_long(row_number) from None
        # A list pasted from a mail client may end entries with "," or ";".
        entry = line.strip().rstrip(",;").rstrip()
        if entry:
            yield row_number, _trimmed(_txt_entry(entry))


def _txt_entry(entry: str) -> list[str]:
    """[address, name] from `addr`, `Name <addr>` or `"Last, First" <addr>`.

    Split by hand: email.utils.parseaddr turns `Doe, Jane <a@b.c>` into ('', 'Doe') and its
    strictness differs between Python patch releases.
    """
    if "<" not in entry or not entry.endswith(">"):
        return [entry, ""]
    cut = entry.rindex("<")
    name = entry[:cut].strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = re.sub(r"\\(.)", r"\1", name[1:-1]).strip()
    return [entry[cut + 1 : -1].strip(), name]
