"""Read and import a full 1,048,576-row .xlsx sheet; compare spreadsheet readers.

    .venv/bin/python bench/xlsx_bench.py readers [--rows 1048575]
    .venv/bin/python bench/xlsx_bench.py import  [--rows 1048575] [--database-url postgres://...]

The sheet (a header and `--rows` data rows of e-mail, name, phone, city: a full sheet is 1,048,575
data rows) is generated once, streamed into the zip, with every string in the shared-strings
table the way Excel writes it (about two million distinct strings on a full sheet), and cached
under /tmp.

`readers` reads the whole sheet with each reader, each in its own process so that its peak
memory (max RSS) is its own, and prints rows per second and peak memory (python-calamine and
fastexcel are not the project's packages: `.venv/bin/pip install python-calamine==0.9.1
fastexcel==0.21.0` first):
  - openpyxl read-only mode (the reader before issue 20);
  - python-calamine (loads the whole sheet into memory before the first row);
  - fastexcel (calamine underneath, into Arrow);
  - python-calamine-plus (streams rows from the zip; what the import uses);
  - lists.parsers.open_table (the import's reader: python-calamine-plus plus cell conversion).
The ceiling is the fastest of them; each reader's ratio is its rows/s over it.

`import` runs the whole import of that sheet the way a worker does (`import_run`) in this
process and prints time, rows/s and peak memory beside its ceiling, measured in the same run:
plain SQL writing the same rows (import_bench.ceiling), and the ratio; the goal is under 120 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FULL_SHEET_DATA_ROWS = 1_048_575  # Excel's 1,048,576 rows less the header
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "yandex.ru", "mail.ru", "example.org"]
FIRST = ["Anna", "Boris", "Chloe", "Dmitri", "Emma", "Farid", "Grace", "Hugo", "Ирина", "Олег"]


def sheet_path(rows: int) -> Path:
    # A fixed name under /tmp on purpose: the sheet is generated once and reused across runs.
    return Path("/tmp") / f"i20_import_bench_sst_{rows}.xlsx"  # noqa: S108


def _rows(count: int):
    rng = random.Random(42)
    yield ["email", "name", "phone", "city"]
    for i in range(count):
        first = rng.choice(FIRST)
        yield [
            f"{first.lower() if first.isascii() else 'user'}.{i}@{rng.choice(DOMAINS)}",
            f"{first} {i}",
            f"+1 555 {i % 10000:04d}",
            rng.choice(["Leeds", "Paris", "Kazan", None]),
        ]


_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="Subscribers" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
    ),
}


def generate(rows: int) -> Path:
    """The cached sheet of `rows` data rows, streamed into the zip the way Excel lays it out:
    every string in the shared-strings table (xl/sharedStrings.xml), cells refer to it by
    index, and the sheet records its <dimension>. (openpyxl's write-only mode would write
    inline strings, which no reader has to look up: too kind a test.)"""
    path = sheet_path(rows)
    if path.exists():
        return path
    import zipfile
    from xml.sax.saxutils import escape

    started = time.perf_counter()
    partial = path.with_suffix(".partial.xlsx")
    strings: dict[str, int] = {}
    columns = "ABCD"
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in _PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                + f'<dimension ref="A1:D{rows + 1}"/><sheetData>'.encode()
            )
            chunk = []
            for number, values in enumerate(_rows(rows), start=1):
                cells = []
                for column, value in zip(columns, values, strict=True):
                    if value is None:
                        continue
                    index = strings.setdefault(value, len(strings))
                    cells.append(f'<c r="{column}{number}" t="s"><v>{index}</v></c>')
                chunk.append(f'<row r="{number}">{"".join(cells)}</row>')
                if len(chunk) == 10_000:
                    sheet.write("".join(chunk).encode())
                    chunk = []
            sheet.write(("".join(chunk) + "</sheetData></worksheet>").encode())
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as table:
            table.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                + f'count="{len(strings)}" uniqueCount="{len(strings)}">'.encode()
            )
            chunk = []
            for text in strings:
                chunk.append(f"<si><t>{escape(text)}</t></si>")
                if len(chunk) == 10_000:
                    table.write("".join(chunk).encode())
                    chunk = []
            table.write(("".join(chunk) + "</sst>").encode())
    partial.rename(path)
    print(
        f"generated {path} ({rows:,} data rows, {len(strings):,} shared strings, "
        f"{path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.0f} s"
    )
    return path


def _read_openpyxl(path: Path) -> int:
    import openpyxl

    with path.open("rb") as handle:
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()
        count = sum(1 for _ in sheet.iter_rows(values_only=True))
        workbook.close()
    return count


def _read_calamine(path: Path) -> int:
    from python_calamine import CalamineWorkbook

    workbook = CalamineWorkbook.from_path(str(path))
    return sum(1 for _ in workbook.get_sheet_by_index(0).iter_rows())


def _read_fastexcel(path: Path) -> int:
    import fastexcel

    sheet = fastexcel.read_excel(str(path)).load_sheet(0, header_row=None)
    return sheet.height


def _read_calamine_plus(path: Path) -> int:
    from python_calamine_plus import CalamineWorkbook

    workbook = CalamineWorkbook.from_path(str(path))
    return sum(1 for _ in workbook.stream_sheet_by_index(0))


def _read_open_table(path: Path) -> int:
    from lists import parsers

    with parsers.open_table(path=path, fmt="xlsx") as table:
        return 1 + sum(1 for _ in table.rows)


READERS = {
    "openpyxl read-only": _read_openpyxl,
    "python-calamine": _read_calamine,
    "fastexcel": _read_fastexcel,
    "python-calamine-plus (streaming)": _read_calamine_plus,
    "lists.parsers.open_table": _read_open_table,
}


def _child(reader: str, path: str) -> None:
    """Run in a subprocess: read the sheet with one reader, print JSON figures."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    started = time.perf_counter()
    rows = READERS[reader](Path(path))
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": elapsed, "peak_mb": peak}))


def compare_readers(path: Path, readers: list[str], openpyxl_rows: int | None) -> None:
    results = {}
    for reader in readers:
        source = path
        if reader == "openpyxl read-only" and openpyxl_rows:
            source = generate(openpyxl_rows)  # openpyxl takes minutes on a full sheet
        out = subprocess.run(
            [sys.executable, __file__, "_child", reader, str(source)],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        if out.returncode:
            if "ModuleNotFoundError" in out.stderr:
                print(f"{reader}: not installed (see the packages named at the top of this file)")
            else:
                print(f"{reader}: failed\n{out.stderr[-2000:]}")
            continue
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        figures["rate"] = figures["rows"] / figures["seconds"]
        results[reader] = figures
    ceiling = max(figures["rate"] for figures in results.values())
    print(f"\nreading {path.name} (header + data rows), each reader in its own process:")
    print(f"  {'reader':36} {'rows':>10} {'seconds':>8} {'rows/s':>10} {'peak MB':>8} ratio")
    for reader, figures in results.items():
        print(
            f"  {reader:36} {figures['rows']:>10,} {figures['seconds']:>8.1f} "
            f"{figures['rate']:>10,.0f} {figures['peak_mb']:>8.0f} {figures['rate'] / ceiling:.0%}"
        )
    print(f"  ceiling: the fastest reader, {ceiling:,.0f} rows/s")


def import_sheet(path: Path, rows: int, database_url: str) -> None:
    sys.argv = [sys.argv[0]]
    import import_bench

    import_bench.setup_django(database_url)
    import tempfile

    from django.conf import settings

    from accounts.models import Account
    from lists.models import MailingList
    from lists.services.lists import list_delete

    settings.IMPORT_MAX_BYTES = max(settings.IMPORT_MAX_BYTES, path.stat().st_size + 1)
    with tempfile.TemporaryDirectory() as tmp:
        settings.MEDIA_ROOT = tmp
        # The ceiling: plain SQL writing the same rows (from a CSV of them: no spreadsheet).
        same_rows = Path(tmp) / "same_rows.csv"
        import_bench.generate(same_rows, rows)
        ceiling_seconds = import_bench.ceiling(same_rows, rows)
        same_rows.unlink()
        account = Account.objects.create(
            company_name="Bench Ltd", contact_name="B", phone="1", postal_address="1 Bench Rd"
        )
        mailing_list = MailingList.objects.create(
            account=account, name=f"bench {time.time()}", purpose="Benchmark."
        )
        try:
            elapsed, peak = import_bench.measure("xlsx import", mailing_list, path)
        finally:
            list_delete(mailing_list=mailing_list)
    print(
        f"  figure {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s) for {rows:,} data rows; "
        f"goal under 120 s for a full sheet; ceiling (plain SQL, same rows) "
        f"{ceiling_seconds:.1f} s ({rows / ceiling_seconds:,.0f} rows/s); ratio "
        f"{ceiling_seconds / elapsed:.0%}; peak {peak:.0f} MB (goal: under 300 MB)"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        _child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["readers", "import"])
    parser.add_argument("--rows", type=int, default=FULL_SHEET_DATA_ROWS)
    parser.add_argument(
        "--openpyxl-rows",
        type=int,
        default=None,
        help="read a smaller sheet of this many rows with openpyxl (minutes on a full one)",
    )
    parser.add_argument("--readers", default=",".join(READERS), help="comma-separated")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/i20_import_bench"
    )
    args = parser.parse_args()
    path = generate(args.rows)
    if args.what == "readers":
        compare_readers(path, args.readers.split(","), args.openpyxl_rows)
    else:
        import_sheet(path, args.rows, args.database_url)


if __name__ == "__main__":
    main()
