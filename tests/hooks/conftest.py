"""A real HTTP receiver in a thread, and a hook of the team pointing at it.

The receiver checks every delivery's signature the way the README tells receivers to, and
answers with the statuses a test queues (200 once they run out). `stop()` closes its port, so
a delivery meets a refused connection, as with a receiver that is down; `start()` opens the
same port again.
"""

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.hooks.models import Event, Webhook

PORTS = range(8831, 8840)


def verify(*, secret: str, headers, body: bytes) -> bool:
    """The README's receiver check: HMAC-SHA256 of "<timestamp>.<body>", compared in constant
    time."""
    signed = headers["X-Relay-Timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Relay-Signature"])


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    signature_ok: bool

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str = ""
    answers: list = field(default_factory=list)  # (status, headers) to answer, in turn
    received: list[Received] = field(default_factory=list)
    port: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/relay-hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = dict(self.headers)
                receiver.received.append(
                    Received(
                        path=self.path,
                        headers=headers,
                        body=body,
                        signature_ok=verify(secret=receiver.secret, headers=headers, body=body),
                    )
                )
                status, extra = receiver.answers.pop(0) if receiver.answers else (200, {})
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(f"answered {status}".encode())

            def log_message(self, *args):
                pass

        ports = [self.port] if self.port else PORTS
        for port in ports:
            try:
                self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
                break
            except OSError:
                continue
        else:
            pytest.skip("no free port for the test receiver in 8831-8839")
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver():
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def allow_private(settings):
    """The receiver is on 127.0.0.1: only reachable with the SSRF guard explicitly relaxed."""
    settings.RELAY_WEBHOOKS_ALLOW_PRIVATE = True


@pytest.fixture
def hook(team, lead, receiver, allow_private):
    webhook = Webhook.objects.create(
        team=team, url=receiver.url, events=[str(e) for e in Event], created_by=lead
    )
    receiver.secret = webhook.secret
    return webhook
