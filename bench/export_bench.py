"""Export a list of a million subscribers with their consent to CSV and to XLSX (issue 22).

    .venv/bin/python bench/export_bench.py [--rows 1000000] [--database-url ...]

Each export runs in its own process, so that its peak memory (max RSS, minus the process's RSS
before it starts) is its own:
  - csv:  lists.exports.subscribers_csv, the generator the StreamingHttpResponse sends, every
          line encoded and counted (not kept);
  - xlsx: lists.exports.subscribers_xlsx into a temporary file, as the view does before sending.
  - job-csv, job-xlsx: the background path (lists.services.export_jobs.export_run, what the
          Celery task calls): a queued ExportJob written to a file in EXPORTS_ROOT (a temporary
          folder here) with its progress saved after every chunk, then marked done.
The ceiling is a bare `COPY (SELECT the same columns, the latest granted consent by LATERAL
join) TO STDOUT (FORMAT csv)` read to the end: the database's own fastest way to hand over the
same data. Printed: time, rows/s, peak memory, the ceiling's time and the ratio.

Run on a quiet machine for figures to quote; the figures in the branch report were taken on a
busy one (2 cores shared with other work).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.big_list import DEFAULT_URL, big_list, setup_django  # noqa: E402

COPY = """COPY (
    SELECT s.email, s.name, s.phone, s.status, s.subscribed_at, s.unsubscribed_at, s.attributes,
           c.source, c.obtained_at, c.ip, c.user_agent, c.purpose_text, c.form_url, c.proof,
           c.proof_file
    FROM lists_subscriber s
    LEFT JOIN LATERAL (
        SELECT * FROM lists_consentrecord r
        WHERE r.subscriber_id = s.id AND r.event = 'granted'
        ORDER BY r.obtained_at DESC, r.id DESC LIMIT 1
    ) c ON true
    WHERE s.mailing_list_id = {list_id}
    ORDER BY s.id
) TO STDOUT (FORMAT csv, HEADER true)"""


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_one(kind: str, rows: int) -> dict:
    """In this process: one export of the bench list; its time, rows and memory."""
    from django.db import connection

    from lists.exports import subscribers_csv, subscribers_xlsx

    mailing_list = big_list(rows)
    queryset = mailing_list.subscribers.all()
    before = _peak_kib()
    started = time.perf_counter()
    size = written = 0
    if kind == "csv":
        for line in subscribers_csv(queryset):
            size += len(line.encode("utf-8"))
            written += 1
        written -= 1  # the header
    elif kind == "xlsx":
        with tempfile.TemporaryFile() as target:
            written = subscribers_xlsx(queryset, target=target)
            size = target.tell()
    elif kind.startswith("job-"):
        written, size = _run_job(mailing_list, kind.removeprefix("job-"))
    else:  # the ceiling
        connection.ensure_connection()
        sql = COPY.format(list_id=int(mailing_list.pk))
        with connection.connection.cursor() as raw, raw.copy(sql) as copy:
            for block in copy:
                size += len(block)
        written = rows
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows": written,
        "bytes": size,
        "peak_mib": max(_peak_kib() - before, 0) / 1024,
    }


def _run_job(mailing_list, file_format: str) -> tuple[int, int]:
    """One background export of the list, as a worker runs it; its rows and file size."""
    import shutil

    from django.conf import settings

    from lists.models import ExportJob
    from lists.services.export_jobs import export_run

    folder = tempfile.mkdtemp(prefix="export-bench-")
    settings.EXPORTS_ROOT = folder
    job = ExportJob.objects.create(
        account=mailing_list.account,
        source="list",
        object_id=mailing_list.pk,
        label=mailing_list.name,
        file_format=file_format,
        filename=f"bench.{file_format}",
    )
    try:
        status = export_run(export_id=job.pk)
        job.refresh_from_db()
        if status != "done":
            raise SystemExit(f"the export ended {status}: {job.failure_reason}")
        return job.rows_done, job.file_size
    finally:
        ExportJob.objects.filter(pk=job.pk).delete()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument(
        "--one", choices=["csv", "xlsx", "job-csv", "job-xlsx", "copy"], help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--kinds",
        default="csv,xlsx,job-csv,job-xlsx",
        help="which exports to measure, beside the ceiling (comma-separated)",
    )
    args = parser.parse_args()
    setup_django(args.database_url)
    if args.one:
        print(json.dumps(run_one(args.one, args.rows)))
        return
    big_list(args.rows)  # made once, before anything is timed

    def measure(kind: str) -> dict:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--rows",
                str(args.rows),
                "--database-url",
                args.database_url,
                "--one",
                kind,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])

    ceiling = measure("copy")
    print(f"Export of a list of {args.rows:,} subscribers with their consent")
    print(
        f"ceiling: COPY ... TO STDOUT {ceiling['seconds']:.1f} s, "
        f"{ceiling['bytes'] / 2**20:.0f} MiB of CSV"
    )
    for kind in args.kinds.split(","):
        result = measure(kind)
        seconds, rate = result["seconds"], result["rows"] / result["seconds"]
        print(
            f"{kind:8} {seconds:7.1f} s  {rate:9,.0f} rows/s  peak +{result['peak_mib']:.0f} MiB"
            f"  {result['bytes'] / 2**20:.0f} MiB written  ceiling {ceiling['seconds']:.1f} s"
            f"  ratio {seconds / ceiling['seconds']:.1f}"
        )


if __name__ == "__main__":
    main()
