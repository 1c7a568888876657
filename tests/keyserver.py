"""A real local HTTPS server standing in for a provider's key host (SNS, PayPal, Plaid, Google), no network.

The test makes its own CA and a `localhost` certificate with `cryptography`; the schemes under test get a
`KeyFetcher` whose allowlist is `localhost` on this server's port and whose SSL context trusts only that
CA, so the production allowlists and trust store are never touched. Each route answers a fixed status and
body (optionally after a delay); every request is recorded, so a test can assert a URL was never fetched.
"""

from __future__ import annotations

import datetime
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID

from receiver.verify.keys import HostAllowlist, KeyFetcher


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    delay_s: float = 0.0
    content_type: str = "application/json"


@dataclass
class Seen:
    method: str
    path: str
    body: bytes


@dataclass
class KeyServer:
    """The server's state: its routes (path with query) and the requests it has seen."""

    port: int = 0
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    ssl_client: ssl.SSLContext | None = None

    def url(self, path: str) -> str:
        return f"https://localhost:{self.port}{path}"

    def serve(self, path: str, body: bytes, status: int = 200, delay_s: float = 0.0) -> str:
        self.routes[path] = Route(status, body, delay_s)
        return self.url(path)

    def fetcher(self, timeout_s: float = 2.0, max_bytes: int = 65_536) -> KeyFetcher:
        assert self.ssl_client is not None
        allowlist = HostAllowlist(re.compile(r"localhost"), port=self.port)
        return KeyFetcher(allowlist, ssl_context=self.ssl_client, timeout_s=timeout_s, max_bytes=max_bytes)

    def hits(self, path: str) -> int:
        return sum(1 for seen in self.seen if seen.path == path)


def make_ca_and_server_cert(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate it issued for `localhost`: (CA cert, server cert, server key) PEM files."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _common_name("webhook-ingest test CA")
    ca_cert = (
        _certificate(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _certificate(_common_name("localhost"), ca_name, key.public_key())
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_path, cert_path, key_path


def signing_certificate(key: rsa.RSAPrivateKey, common_name: str) -> bytes:
    """A self-signed PEM certificate for a provider's signing key (what SigningCertURL / PAYPAL-CERT-URL serve)."""
    name = _common_name(common_name)
    cert = _certificate(name, name, key.public_key()).sign(key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM)


def _common_name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: x509.Name, issuer: x509.Name, public_key: CertificatePublicKeyTypes
) -> x509.CertificateBuilder:
    # Valid from five minutes ago (a clock a little behind still accepts it) for a day: longer than any test.
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def running_key_server() -> Iterator[KeyServer]:
    """Start the server on a free port; yields its state, stops it afterwards."""
    state = KeyServer()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            state.seen.append(Seen(self.command, self.path, body))
            route = state.routes.get(self.path, Route(404, b"not found"))
            if route.delay_s:
                time.sleep(route.delay_s)
            try:
                self.send_response(route.status)
                self.send_header("content-type", route.content_type)
                self.send_header("content-length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                pass  # the client gave up (a timeout test)

        do_GET = _answer
        do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            return None

    with tempfile.TemporaryDirectory() as directory:
        ca_path, cert_path, key_path = make_ca_and_server_cert(Path(directory))
        server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_context.load_cert_chain(cert_path, key_path)
        state.ssl_client = ssl.create_default_context(cafile=str(ca_path))
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.socket = server_context.wrap_socket(server.socket, server_side=True)
        state.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield state
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
