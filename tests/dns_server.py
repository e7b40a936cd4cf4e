"""A real DNS server on 127.0.0.1 for tests, serving the TXT (and A) records a test writes.

dnsmasq (Debian package dnsmasq-base, /usr/sbin/dnsmasq) is the server: each change of records
rewrites its configuration file and restarts it on the same port, since dnsmasq reads
`txt-record` lines only at start. It answers for every name (`local=/#/`) and forwards nothing,
so a name without records is NXDOMAIN (or NOERROR with no answer for a parent of a name that has
records), as an authoritative server would answer, and no query leaves 127.0.0.1.

Without dnsmasq (a newcomer's machine) a small dnslib server in threads stands in; in CI dnsmasq
is required. DNS_TEST_SERVER=dnslib forces the fallback locally.

Records are `name -> list of values`; a value is one TXT record, either a string (split into
255-byte character-strings when longer, as DNS providers do with DKIM keys) or a list/tuple of
strings for a multi-string record, whose strings a reader joins without separators.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query

DNSMASQ_CANDIDATES = ("/usr/sbin/dnsmasq", "/usr/local/sbin/dnsmasq")
HOST = "127.0.0.1"
START_TIMEOUT = 10.0
NAME_CHARACTERS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


class DnsServerUnavailable(Exception):
    """The requested kind of DNS server cannot run on this machine."""


def dnsmasq_path() -> str | None:
    found = shutil.which("dnsmasq")
    if found:
        return found
    return next((path for path in DNSMASQ_CANDIDATES if os.access(path, os.X_OK)), None)


def free_port() -> int:
    """A port that is free on 127.0.0.1 for both UDP and TCP right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((HOST, 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((HOST, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("No free port on 127.0.0.1 for both UDP and TCP.")


def normalise_name(name: str) -> str:
    name = name.strip().rstrip(".").lower()
    if not name or not set(name) <= NAME_CHARACTERS:
        raise ValueError(f"Not a DNS name this server can hold: {name!r}")
    return name


def character_strings(value: str | list[str] | tuple[str, ...]) -> list[bytes]:
    """The <character-string>s of one TXT record."""
    if isinstance(value, str):
        data = value.encode("utf-8")
        return [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    strings = [part.encode("utf-8") for part in value]
    if not strings:
        raise ValueError("A multi-string TXT record needs at least one string.")
    if any(len(part) > 255 for part in strings):
        raise ValueError("A TXT character-string holds at most 255 bytes.")
    return strings


def parse_records(records: dict[str, list]) -> dict[str, list[list[bytes]]]:
    parsed = {}
    for name, values in records.items():
        if isinstance(values, str | bytes):
            raise TypeError("Give a list of TXT values, e.g. ['v=spf1 -all'].")
        rrs = [character_strings(value) for value in values]
        if rrs:
            parsed[normalise_name(name)] = rrs
    return parsed


def wait_until_answering(port: int, *, is_alive, describe) -> None:
    """Poll the server with a real query until it answers, it dies, or time runs out."""
    deadline = time.monotonic() + START_TIMEOUT
    query = dns.message.make_query("readiness-probe.invalid", "TXT")
    while time.monotonic() < deadline:
        if not is_alive():
            raise RuntimeError(f"The DNS server exited while starting: {describe()}")
        try:
            dns.query.udp(query, HOST, port=port, timeout=0.05)
            return
        except (dns.exception.Timeout, OSError):
            time.sleep(0.02)
    raise RuntimeError(f"The DNS server did not answer within {START_TIMEOUT}s: {describe()}")


class TxtDnsServer:
    """Common interface: `.address`, `.set_txt()`, `.set_records()`, `.clear()`, `.stop()`."""

    kind = ""

    def __init__(self) -> None:
        self.port = free_port()
        self.records: dict[str, list[list[bytes]]] = {}
        # A records (IPv4 addresses by name), for the DNSBL tests.
        self.a_records: dict[str, list[str]] = {}

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def set_txt(self, name: str, values: list) -> None:
        """Publish `values` as the TXT records of `name` (replacing its old ones); [] removes."""
        records = dict(self.records)
        records.pop(normalise_name(name), None)
        records.update(parse_records({name: values}))
        self.records = records
        self.apply()

    def set_a(self, name: str, addresses: list[str]) -> None:
        """Publish `addresses` as the A records of `name` (replacing its old ones); [] removes."""
        a_records = dict(self.a_records)
        a_records.pop(normalise_name(name), None)
        if addresses:
            a_records[normalise_name(name)] = [str(ipaddress.IPv4Address(a)) for a in addresses]
        self.a_records = a_records
        self.apply()

    def set_records(self, records: dict[str, list]) -> None:
        """Replace every record at once (one restart for dnsmasq)."""
        self.records = parse_records(records)
        self.apply()

    def clear(self) -> None:
        self.set_records({})

    def start(self) -> TxtDnsServer:
        self.apply()
        return self

    def apply(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class DnsmasqServer(TxtDnsServer):
    kind = "dnsmasq"

    def __init__(self, workdir: Path, binary: str | None = None) -> None:
        super().__init__()
        self.binary = binary or dnsmasq_path()
        if not self.binary:
            raise DnsServerUnavailable("dnsmasq is not installed (apt-get install dnsmasq-base).")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf = self.workdir / "dnsmasq.conf"
        self.log = self.workdir / "dnsmasq.log"
        self.process: subprocess.Popen | None = None
        self.log_offset = 0
        self.started = False  # Once started, the port stays: DNS_NAMESERVERS points at it.

    def config_text(self) -> str:
        lines = [
            "# Written by tests/dns_server.py",
            "local=/#/",  # Answer every name here; never forward (NXDOMAIN, not REFUSED).
        ]
        for name, rrs in sorted(self.records.items()):
            for rr in rrs:
                strings = ",".join(quote(part) for part in rr)
                lines.append(f"txt-record={name},{strings}")
        for name, addresses in sorted(self.a_records.items()):
            for address in addresses:
                lines.append(f"host-record={name},{address}")
        return "\n".join(lines) + "\n"

    def command(self) -> list[str]:
        command = [
            self.binary,
            "--keep-in-foreground",
            "--log-facility=-",
            f"--conf-file={self.conf}",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            f"--port={self.port}",
            f"--listen-address={HOST}",
            "--bind-interfaces",
            "--pid-file=",  # No pid file: nothing written outside the test's directory.
        ]
        if os.geteuid() == 0:
            command += ["--user=nobody"]  # Drop root once the sockets are open.
        return command

    def apply(self) -> None:
        """Write the configuration and (re)start dnsmasq on the same port."""
        self.stop()
        self.conf.write_text(self.config_text(), encoding="utf-8")
        self.conf.chmod(0o644)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            self.log_offset = self.log.stat().st_size if self.log.exists() else 0
            with self.log.open("ab") as log:
                self.process = subprocess.Popen(
                    self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            try:
                wait_until_answering(
                    self.port, is_alive=lambda: self.process.poll() is None, describe=self.output
                )
            except RuntimeError:
                self.stop()
                if "Address already in use" not in self.output() or time.monotonic() > deadline:
                    raise
                if self.started:
                    time.sleep(0.1)  # Our old process's sockets may still be closing.
                else:
                    self.port = free_port()  # Taken since we chose it: take another.
            else:
                self.started = True
                return

    def output(self) -> str:
        """What dnsmasq printed since its last start."""
        try:
            with self.log.open("rb") as log:
                log.seek(self.log_offset)
                return log.read().decode("utf-8", "replace")[-2000:]
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None


def quote(part: bytes) -> str:
    """One character-string as a quoted dnsmasq configuration value."""
    text = part.decode("utf-8")
    if any(ch in text for ch in "\n\r\0"):
        raise ValueError("dnsmasq cannot serve a TXT string with a newline or NUL.")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DnslibServer(TxtDnsServer):
    """The fallback: dnslib answering over UDP and TCP in threads, reading the records live."""

    kind = "dnslib"

    def __init__(self) -> None:
        super().__init__()
        try:
            from dnslib import server as dnslib_server  # noqa: F401
        except ImportError as exc:
            raise DnsServerUnavailable("neither dnsmasq nor dnslib is installed.") from exc
        self.servers: list = []

    def resolve(self, request, handler):
        from dnslib import QTYPE, RCODE, RR, TXT, A

        reply = request.reply()
        reply.header.aa = 1
        qname = str(request.q.qname).rstrip(".").lower()
        records, a_records = self.records, self.a_records
        if qname in records or qname in a_records:
            if request.q.qtype in (QTYPE.TXT, QTYPE.ANY):
                for rr in records.get(qname, []):
                    reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(list(rr)), ttl=0))
            if request.q.qtype in (QTYPE.A, QTYPE.ANY):
                for address in a_records.get(qname, []):
                    reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=0))
        elif not any(name.endswith("." + qname) for name in [*records, *a_records]):
            reply.header.rcode = RCODE.NXDOMAIN
        return reply

    def apply(self) -> None:
        if self.servers:
            return  # The threads read self.records on every query.
        from dnslib.server import DNSLogger, DNSServer

        logger = DNSLogger(logf=lambda *args: None)
        for tcp in (False, True):
            server = DNSServer(self, address=HOST, port=self.port, tcp=tcp, logger=logger)
            # A short poll interval: stop() (socketserver's shutdown) waits for one poll.
            server.thread = threading.Thread(
                target=server.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
            )
            server.thread.start()
            self.servers.append(server)
        wait_until_answering(self.port, is_alive=lambda: True, describe=lambda: "dnslib server")

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
            server.server.server_close()
        self.servers = []


def start_dns_server(workdir: Path, *, require_dnsmasq: bool = False) -> TxtDnsServer:
    """dnsmasq when installed (required when `require_dnsmasq`), else the dnslib fallback."""
    wanted = os.environ.get("DNS_TEST_SERVER", "").strip().lower()
    if wanted not in ("", "dnsmasq", "dnslib"):
        raise DnsServerUnavailable(f"DNS_TEST_SERVER={wanted!r}: use 'dnsmasq' or 'dnslib'.")
    if require_dnsmasq and wanted == "dnslib":
        raise DnsServerUnavailable("DNS_TEST_SERVER=dnslib, but dnsmasq is required here.")
    binary = dnsmasq_path()
    if wanted == "dnsmasq" or require_dnsmasq or (binary and wanted != "dnslib"):
        return DnsmasqServer(workdir, binary).start()
    return DnslibServer().start()
