"""Loopback servers that play the parts in SSRF attempts: a stand-in for a cloud metadata
service (it records every request it gets), a redirector, and a drip-feed server."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.requests: list[str] = []
        self.sent = 0  # body bytes the drip-feed handler managed to send
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Quiet(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, *args: object) -> None:
        pass


class Metadata(_Quiet):
    """Answers like an instance metadata endpoint, and records who asked."""

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        body = b'{"AccessKeyId": "ASIA-STAND-IN", "SecretAccessKey": "not-for-you"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Redirector(_Quiet):
    """``/to?u=URL`` answers 302 to URL; ``/loop`` redirects to itself; ``/ok`` is content;
    ``/undeclared`` is content without a Content-Length (read until the connection closes)."""

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        parts = urlsplit(self.path)
        if parts.path == "/undeclared":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"x" * 100_000)
            return
        if parts.path == "/ok":
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            return
        target = parse_qs(parts.query)["u"][0] if parts.path == "/to" else self.path
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Drip(_Quiet):
    """Promises 100 bytes and sends one a second (``/body``), or sends its very headers one
    byte a second (``/headers``)."""

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        try:
            if self.path == "/headers":
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Padding: " + b"x" * 100:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    self.server.sent += 1
                    time.sleep(1)
                return
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                self.server.sent += 1
                time.sleep(1)
        except OSError:  # the client hung up: what the test wants
            return
