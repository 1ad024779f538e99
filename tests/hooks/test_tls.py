"""https:// deliveries: connected to the checked address, the certificate verified for the host
name in the URL (not for the address)."""

import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from apps.hooks import sending

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture
def tls_receiver(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(self.headers["Host"].encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], cert
    server.shutdown()
    server.server_close()


def test_an_untrusted_certificate_fails_the_attempt(tls_receiver, settings):
    settings.RELAY_WEBHOOKS_ALLOW_PRIVATE = True
    port, _cert = tls_receiver
    with pytest.raises(sending.SendFailed, match="CERTIFICATE_VERIFY_FAILED"):
        sending.post(url=f"https://localhost:{port}/x", body=b"{}", headers={})


def test_a_trusted_certificate_for_the_urls_host_name_is_accepted(
    tls_receiver, settings, monkeypatch
):
    settings.RELAY_WEBHOOKS_ALLOW_PRIVATE = True
    port, cert = tls_receiver
    default = ssl.create_default_context
    monkeypatch.setattr(sending.ssl, "create_default_context", lambda: default(cafile=cert))
    status, answer = sending.post(url=f"https://localhost:{port}/x", body=b"{}", headers={})
    assert status == 200
    assert answer == f"localhost:{port}"  # the Host header names the URL's host, not the IP
