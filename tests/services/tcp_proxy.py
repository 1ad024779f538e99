"""A TCP proxy to put between Relay and a service (Redis) and break on purpose.

`proxy.down()` closes every open connection and stops listening, so new connections are
refused, as when the broker restarts or the network drops; `proxy.up()` listens again on the same
port; `proxy.kill_connections()` drops the open connections but keeps accepting (a blip).
Threads, not asyncio: the callers (tests, bench scripts) are synchronous and the proxy must
keep working while they block.
"""

import selectors
import socket
import threading
from contextlib import contextmanager, suppress


class TCPProxy:
    def __init__(self, *, upstream_host: str, upstream_port: int, port: int = 0):
        self.upstream = (upstream_host, upstream_port)
        self.port = port
        self.accepted = 0
        self.outages = 0
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._stopping = False

    # --- listening -------------------------------------------------------------------------
    def up(self) -> "TCPProxy":
        """Listen (again) on `self.port`; the first call picks a free port."""
        with self._lock:
            if self._listener is not None:
                return self
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(128)
            self.port = listener.getsockname()[1]
            self._listener = listener
        threading.Thread(target=self._accept_loop, args=(listener,), daemon=True).start()
        return self

    start = up

    def down(self) -> None:
        """An outage: drop every connection and refuse new ones until `up()`."""
        with self._lock:
            listener, self._listener = self._listener, None
            if listener is not None:
                self.outages += 1
        if listener is not None:
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        self.kill_connections()

    def stop(self) -> None:
        self._stopping = True
        self.down()

    @property
    def is_up(self) -> bool:
        return self._listener is not None

    @property
    def url_host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kill_connections(self) -> int:
        """Close both ends of every proxied connection (a reset for client and server)."""
        with self._lock:
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            for sock in pair:
                _close(sock)
        return len(pairs)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    # --- plumbing --------------------------------------------------------------------------
    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            try:
                server = socket.create_connection(self.upstream, timeout=2)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            pair = (client, server)
            with self._lock:
                if self._listener is not listener:  # went down meanwhile
                    _close(client)
                    _close(server)
                    return
                self._pairs.add(pair)
                self.accepted += 1
            threading.Thread(target=self._pump, args=(pair,), daemon=True).start()

    def _pump(self, pair: tuple[socket.socket, socket.socket]) -> None:
        client, server = pair
        other = {client: server, server: client}
        selector = selectors.DefaultSelector()
        try:
            selector.register(client, selectors.EVENT_READ)
            selector.register(server, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select(timeout=0.5):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    other[key.fileobj].sendall(data)
                with self._lock:
                    if pair not in self._pairs:
                        return
        except (OSError, ValueError):
            return
        finally:
            selector.close()
            with self._lock:
                self._pairs.discard(pair)
            _close(client)
            _close(server)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with suppress(OSError):
        sock.close()


@contextmanager
def tcp_proxy(*, upstream_host: str, upstream_port: int):
    proxy = TCPProxy(upstream_host=upstream_host, upstream_port=upstream_port).up()
    try:
        yield proxy
    finally:
        proxy.stop()
