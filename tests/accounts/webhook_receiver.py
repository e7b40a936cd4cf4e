"""A real HTTP receiver on 127.0.0.1 for webhook tests: it records every request and answers
from a script of responses (status, body, delay seconds, extra headers)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    # Answers used in order; the last one repeats.
    script: list[tuple[int, bytes, float, dict]] = field(
        default_factory=lambda: [(200, b"ok", 0.0, {})]
    )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def answer(self, *responses: tuple) -> None:
        defaults = (200, b"", 0.0, {})
        self.script = [tuple(r) + defaults[len(r) :] for r in responses]


def start_receiver() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            index = len(receiver.requests)
            receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
            status, answer, delay, headers = receiver.script[min(index, len(receiver.script) - 1)]
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server=server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver
