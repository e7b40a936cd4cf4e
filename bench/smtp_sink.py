"""A cheap local SMTP sink for the send benchmark: Postfix's `smtp-sink`, started and counted.

    .venv/bin/python bench/smtp_sink.py --measure [--messages 20000] [--connections 2,4]
    .venv/bin/python bench/smtp_sink.py --port 2525        # just run a sink, print its count

Why smtp-sink: the machine has 2 cores, shared by the Celery workers that send and by the server
that receives. smtp-sink is a small single-process C event loop that answers SMTP and throws the
message away. Measured here with ~6 KB messages over loopback it used about 80 microseconds of
CPU per message, mostly the kernel's TCP work of four round trips, against about 750 for
aiosmtpd's Sink handler (the Python server behind outbox/sink.py), which topped out near 1,000
messages/s and would have been the bottleneck being measured.

smtp-sink ships in Debian's postfix package. Install it without a prompt and without a running
mail server (the preseed answer "No configuration" writes no main.cf, so no Postfix daemon can
start on port 25; in containers policy-rc.d also refuses to start it):

    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix

The binary is /usr/sbin/smtp-sink. It is started here as

    smtp-sink -4 -c -h <name> -m <max connections> [-u nobody] 127.0.0.1:<port> <backlog>

`-c` makes it print running counters ("sess=N quit=N msg=N" ended by "\\r") to its stdout
after every session end, QUIT and message; stdout is a temporary file, and `accepted()` reads
the last complete record from the file's tail. The message counter goes up when the final
"<CR><LF>.<CR><LF>" of a message has been read, just before the 250 reply, and smtp-sink accepts
every message (no -f/-r options), so it is the number of messages accepted. It costs one small
write(2) to a page-cached file per message. No -d/-D dumps: writing every message to disk costs
orders of magnitude more (smtp-sink's manual). `-u` is required by smtp-sink when run as root.
smtp-sink offers no STARTTLS and answers AUTH with 250, which smtplib's login() takes for a
failure: point the sender at it with EMAIL_USE_TLS off and EMAIL_HOST_USER empty.

`measure_ceiling()` is the rate the sink accepts from N Python smtplib clients, each a separate
process reusing one connection to send one pre-built ~6 KB MIME message: the upper bound that
the application's own send rate is compared to on the same machine.
"""

from __future__ import annotations

import argparse
import atexit
import multiprocessing
import os
import queue
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid
from pathlib import Path
from types import TracebackType

APT_INSTALL = (
    'echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections && '
    "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix"
)
CANDIDATES = ("/usr/sbin/smtp-sink", "/usr/lib/postfix/sbin/smtp-sink")
SINK_HOSTNAME = "sink.bench.test"
SENDER = "bench-sender@bounce.bench.test"
RECIPIENT = ["recipient@inbox.bench.test"]

# One -c record; Debian's Postfix 3.7 says "msg=", some other versions "mesg=".
_RECORD = re.compile(rb"sess=(\d+) quit=(\d+) (?:msg|mesg)=(\d+)")


def ensure_smtp_sink() -> str:
    """The path of the smtp-sink binary, or RuntimeError saying how to install it."""
    for path in (shutil.which("smtp-sink"), *CANDIDATES):
        if path and os.access(path, os.X_OK):
            return path
    raise RuntimeError(
        "smtp-sink not found (it is in Debian's postfix package). Install it with:\n    "
        + APT_INSTALL
    )


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class SmtpSink:
    """smtp-sink on host:port (a free ephemeral port if port is 0) while the context is open.

    `accepted()` is the number of messages the sink has accepted since it started. Sessions and
    QUITs are in `counters()`. `cpu_seconds()` is the CPU time the sink process has used.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        backlog: int = 1024,
        max_connections: int = 1000,
        hostname: str = SINK_HOSTNAME,
        binary: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.backlog = backlog
        self.max_connections = max_connections
        self.hostname = hostname
        self.binary = binary or ensure_smtp_sink()
        self._requested_port = port
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: str | None = None
        self._counts_fd: int | None = None
        self._final: tuple[int, int, int] | None = None
        self._final_cpu: float | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def command(self) -> list[str]:
        """The smtp-sink command line for the current port."""
        cmd = [self.binary, "-4", "-c", "-h", self.hostname, "-m", str(self.max_connections)]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]  # smtp-sink refuses to run as root without -u
        return cmd + [f"{self.host}:{self.port}", str(self.backlog)]

    def start(self) -> SmtpSink:
        """Start smtp-sink and wait until it answers with its 220 greeting."""
        if self._proc is not None:
            raise RuntimeError("smtp-sink already started")
        self._dir = tempfile.mkdtemp(prefix="smtp-sink-")
        attempts = 1 if self._requested_port else 5
        error = ""
        for _ in range(attempts):
            self.port = self._requested_port or _free_port(self.host)
            counts = Path(self._dir, f"counters-{self.port}")
            errors = Path(self._dir, f"stderr-{self.port}")
            with counts.open("wb") as out, errors.open("wb") as err:
                self._proc = subprocess.Popen(
                    self.command(), stdin=subprocess.DEVNULL, stdout=out, stderr=err
                )
            if self._wait_ready(timeout=10.0):
                self._counts_fd = os.open(counts, os.O_RDONLY)
                self._final = None
                atexit.register(self.stop)  # in case the caller never reaches stop()
                return self
            self._kill()
            error = errors.read_text(errors="replace").strip()
            if "in use" not in error:  # only a lost race for the port is worth a retry
                break
        self._cleanup_dir()
        raise RuntimeError(f"smtp-sink did not start on {self.host}:{self.port}: {error}")

    def _wait_ready(self, timeout: float) -> bool:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        greeting = f"220 {self.hostname}".encode()
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=1.0) as s:
                    banner = s.recv(256)
                    s.sendall(b"QUIT\r\n")
                    s.recv(256)
                if banner.startswith(greeting) and self._proc.poll() is None:
                    return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        """Stop smtp-sink (SIGTERM, then SIGKILL); counters stay readable afterwards."""
        if self._proc is None:
            return
        self._final_cpu = self.cpu_seconds()
        self._kill()
        self._final = self._read_counters()
        if self._counts_fd is not None:
            os.close(self._counts_fd)
            self._counts_fd = None
        self._cleanup_dir()
        atexit.unregister(self.stop)

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _cleanup_dir(self) -> None:
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    # -- counters ------------------------------------------------------------------------

    def _read_counters(self) -> tuple[int, int, int]:
        if self._counts_fd is None:
            return self._final or (0, 0, 0)
        size = os.fstat(self._counts_fd).st_size
        start = max(0, size - 512)
        tail = os.pread(self._counts_fd, size - start, start)
        # Only records followed by their "\r" are complete; the first one may be cut off.
        for record in reversed(tail.split(b"\r")[:-1]):
            match = _RECORD.fullmatch(record.strip())
            if match:
                return int(match[1]), int(match[2]), int(match[3])
        return (0, 0, 0)

    def counters(self) -> dict[str, int]:
        """smtp-sink's own counters: sessions ended, QUITs, messages accepted."""
        sessions, quits, messages = self._read_counters()
        return {"sessions": sessions, "quits": quits, "messages": messages}

    def accepted(self) -> int:
        """Messages accepted so far (after stop(): at the end)."""
        return self._read_counters()[2]

    def wait_for(self, count: int, timeout: float, interval: float = 0.05) -> bool:
        """Wait until `count` messages have been accepted; False if `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while self.accepted() < count:
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)
        return True

    def cpu_seconds(self) -> float:
        """User + system CPU seconds used by the smtp-sink process so far (Linux /proc)."""
        if self._proc is None:
            return self._final_cpu or 0.0
        try:
            stat = Path(f"/proc/{self._proc.pid}/stat").read_text()
        except OSError:
            return self._final_cpu or 0.0
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- ceiling ---------------------------------------------------------------------------------


def build_message(size: int = 6 * 1024) -> bytes:
    """A multipart/alternative newsletter of about `size` bytes, as CRLF bytes for SMTP."""
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = "Acme News <news@acme.bench.test>"
    msg["To"] = RECIPIENT[0]
    msg["Subject"] = "Your weekly selection from Acme"
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="acme.bench.test")
    msg["List-Unsubscribe"] = "<https://acme.bench.test/u/0123456789abcdef>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    item = "Hand-made item number {n}: see https://shop.acme.bench.test/p/{n}?utm_source=news\n"
    html_item = (
        '<tr><td><a href="https://acme.bench.test/c/{n}/0123456789abcdef">'
        "Hand-made item number {n}</a></td></tr>\n"
    )
    text, html, n = "Hello Anna,\n\n", "<html><body><table>\n", 0
    while len(text) + len(html) < size - 1300:  # headers and MIME boundaries take the rest
        n += 1
        text += item.format(n=n)
        html += html_item.format(n=n)
    msg.set_content(text + "\nUnsubscribe: https://acme.bench.test/u/0123456789abcdef\n")
    msg.add_alternative(html + "</table></body></html>\n", subtype="html")
    return msg.as_bytes()


def _client(
    port: int,
    count: int,
    message: bytes,
    barrier: multiprocessing.synchronize.Barrier,
    results: multiprocessing.queues.Queue,
) -> None:
    """One client process: connect, wait for the others, send `count` messages, report."""
    try:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="client.bench.test", timeout=60) as s:
            s.ehlo()
            barrier.wait(timeout=60)
            started = time.monotonic()
            for _ in range(count):
                s.sendmail(SENDER, RECIPIENT, message)
            finished = time.monotonic()
        results.put((count, started, finished, ""))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        barrier.abort()
        results.put((0, 0.0, 0.0, f"{type(exc).__name__}: {exc}"))


def measure_ceiling(
    port: int, *, messages: int, connections: int, message: bytes | None = None
) -> float:
    """Messages/second the sink on 127.0.0.1:port accepts from `connections` client processes.

    Each process keeps one SMTP connection and calls smtplib's sendmail with the same pre-built
    ~6 KB message; the clock runs from when all are connected until the last one is done.
    """
    if messages < 1 or connections < 1:
        raise ValueError("messages and connections must be at least 1")
    payload = message if message is not None else build_message()
    # fork: the clients need nothing but these arguments, and unlike spawn it does not re-run
    # the caller's __main__ (a benchmark script without an `if __name__ == "__main__"` guard).
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(connections)
    results = ctx.Queue()
    shares = [messages // connections + (i < messages % connections) for i in range(connections)]
    procs = [
        ctx.Process(target=_client, args=(port, share, payload, barrier, results), daemon=True)
        for share in shares
    ]
    for proc in procs:
        proc.start()
    reports: list[tuple[int, float, float, str]] = []
    try:
        while len(reports) < len(procs):
            try:
                reports.append(results.get(timeout=1.0))
            except queue.Empty:
                if all(proc.exitcode is not None for proc in procs) and results.empty():
                    codes = [proc.exitcode for proc in procs]
                    raise RuntimeError(f"SMTP client processes died: exit codes {codes}") from None
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
    errors = [report[3] for report in reports if report[3]]
    if errors:
        raise RuntimeError(f"SMTP client failed: {errors[0]}")
    sent = sum(report[0] for report in reports)
    elapsed = max(report[2] for report in reports) - min(report[1] for report in reports)
    return sent / elapsed


# -- command line ------------------------------------------------------------------------


def _measure(args: argparse.Namespace) -> None:
    message = build_message()
    print(f"smtp-sink: {ensure_smtp_sink()}; message: {len(message)} bytes")
    with SmtpSink(args.port) as sink:
        print(f"listening on {sink.host}:{sink.port}: {' '.join(sink.command())}")
        for connections in args.connections:
            before, cpu_before = sink.accepted(), sink.cpu_seconds()
            started = time.monotonic()
            rate = measure_ceiling(
                sink.port, messages=args.messages, connections=connections, message=message
            )
            wall = time.monotonic() - started
            counted = sink.accepted() - before
            cpu = sink.cpu_seconds() - cpu_before
            print(
                f"{connections} connections: {rate:,.0f} messages/s; the sink counted {counted:,}"
                f" of {args.messages:,}; its CPU {cpu:.2f} s over {wall:.2f} s wall"
                f" ({100 * cpu / wall:.0f}% of one core, client start-up included)"
            )
            if counted != args.messages:
                raise SystemExit(f"sink counted {counted} messages, {args.messages} were sent")


def _serve(args: argparse.Namespace) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with SmtpSink(args.port) as sink:
        print(f"smtp-sink listening on {sink.host}:{sink.port} (Ctrl-C stops)", flush=True)
        deadline = time.monotonic() + args.seconds if args.seconds else None
        try:
            while not stop.wait(1.0):
                print(f"accepted {sink.accepted():,}", flush=True)
                if deadline and time.monotonic() >= deadline:
                    break
        except KeyboardInterrupt:
            pass
    print(f"stopped; accepted {sink.accepted():,} messages")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--measure", action="store_true", help="measure the sink's ceiling")
    parser.add_argument("--messages", type=int, default=20000, help="per measurement")
    parser.add_argument(
        "--connections",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[2, 4],
        help="comma-separated client process counts, one measurement each",
    )
    parser.add_argument("--seconds", type=float, default=0, help="without --measure: run for")
    args = parser.parse_args(argv)
    try:
        if args.measure:
            _measure(args)
        else:
            _serve(args)
    except RuntimeError as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
