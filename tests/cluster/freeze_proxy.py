"""A loopback TCP proxy that can silently freeze the connections it carries.

``freeze()`` stops forwarding bytes on every connection open at that moment, in both
directions, without closing them: what a dropped NAT entry or a hung peer looks like to a
client. Connections opened afterwards are forwarded normally.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class FreezeProxy:
    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self._lock = threading.Lock()
        self._live: list[threading.Event] = []  # one "frozen" flag per open connection
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> int:
        """Freeze every open connection; the number frozen."""
        with self._lock:
            for flag in self._live:
                flag.set()
            frozen, self._live = len(self._live), []
        return frozen

    def close(self) -> None:
        self._stop.set()
        self.server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                downstream, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            frozen = threading.Event()
            with self._lock:
                self._live.append(frozen)
            for a, b in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pipe, args=(a, b, frozen), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, frozen: threading.Event) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if frozen.is_set():
                    frozen.wait(3600)  # hold the bytes: the peer waits forever
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            if not frozen.is_set():
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)
