"""The part of the kubelet API that `kubectl logs` needs: the apiserver proxies
GET /containerLogs/<namespace>/<pod>/<container> to the node's daemon endpoint.

Only the apiserver (which presents a client certificate from the cluster CA) may connect.
The agent writes one log file per pod, so every container of a pod returns the same file.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse


def _handler(logs_dir: Path, running: Callable[[str, str], bool]) -> type[BaseHTTPRequestHandler]:
    class LogHandler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # the apiserver already logs every request

        def do_GET(self) -> None:  # noqa: N802 - the http.server naming
            url = urlparse(self.path)
            parts = url.path.strip("/").split("/")
            if len(parts) != 4 or parts[0] != "containerLogs":
                self.send_error(404)
                return
            _, namespace, pod, _container = parts
            path = logs_dir / f"{namespace}_{pod}.log"
            if "/" in namespace + pod or not path.is_file():
                self.send_error(404, f"no logs for {namespace}/{pod}")
                return
            query = parse_qs(url.query)
            lines = self._tail(path, query)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(lines)
            if query.get("follow", ["false"])[0] == "true":
                self._follow(path, lambda: running(namespace, pod))

        def _tail(self, path: Path, query: dict[str, list[str]]) -> bytes:
            data = path.read_bytes()
            if "tailLines" in query:
                count = int(query["tailLines"][0])
                data = b"".join(data.splitlines(keepends=True)[-count:]) if count else b""
            self._offset = path.stat().st_size
            return data

        def _follow(self, path: Path, running: Callable[[], bool]) -> None:
            # Like the kubelet: stream until the pod's containers have exited (or the client
            # goes away), then flush what is left.
            while True:
                alive = running()
                size = path.stat().st_size if path.exists() else self._offset
                if size > self._offset:
                    with open(path, "rb") as handle:
                        handle.seek(self._offset)
                        self.wfile.write(handle.read(size - self._offset))
                        self.wfile.flush()
                    self._offset = size
                if not alive:
                    return
                time.sleep(0.5)

    return LogHandler


def serve_logs(
    port: int,
    logs_dir: Path,
    running: Callable[[str, str], bool],
    tls: tuple[Path, Path, Path],
) -> ThreadingHTTPServer:
    """Serve pod logs on 127.0.0.1:`port`. `running(namespace, pod)` says whether a follow
    request should keep waiting for output; `tls` is (certificate, key, client CA)."""
    cert, key, ca = tls
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(logs_dir, running))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca))
    context.load_cert_chain(str(cert), str(key))
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="logserver", daemon=True).start()
    return server
