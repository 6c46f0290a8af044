"""The address check connects to the IP it checked, yet TLS still verifies the host name: a local HTTPS
server with a certificate for `tls.example` (made here with `cryptography`), reached through the guarded
backend with the name resolved by a patched getaddrinfo and loopback counted as public for the test."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import socket
import ssl
import threading

import pytest

from qwenchat import errors
from qwenchat.config import Settings
from qwenchat.providers import Heartbeat, OpenAICompatibleProvider, network

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402


def certificate(tmp_path, name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class Models(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"data": [{"id": "over-tls"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def tls_server(tmp_path, monkeypatch):
    cert_file, key_file = certificate(tmp_path, "tls.example")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Models)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    trusted = ssl.create_default_context(cafile=str(cert_file))
    monkeypatch.setattr(network, "_ssl_context", lambda: trusted)
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in ("tls.example", "other.example"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    # For this test only, loopback counts as public, so the guarded path (connect to the checked IP) runs.
    monkeypatch.setattr(network, "is_global_address", lambda a: ipaddress.ip_address(a).is_loopback)
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def guarded(url: str) -> OpenAICompatibleProvider:
    return OpenAICompatibleProvider(Settings(api_key="sk-v", base_url=url, key_source="sidebar"),
                                    public_only=True, max_retries=0)


def test_the_checked_ip_is_connected_to_and_the_certificate_is_checked_for_the_name(tls_server, monkeypatch):
    checked = []
    real = network.GuardedBackend.checked_addresses

    def spy(host, port):
        checked.append(addresses := real(host, port))
        return addresses

    monkeypatch.setattr(network.GuardedBackend, "checked_addresses", staticmethod(spy))
    assert guarded(f"https://tls.example:{tls_server}/v1").list_models() == ["over-tls"]
    assert checked == [["127.0.0.1"]]  # the name was resolved by us, and the IP connected to


def test_a_certificate_for_another_name_is_refused(tls_server):
    provider = guarded(f"https://other.example:{tls_server}/v1")
    assert provider.list_models() == []
    events = [e for e in provider.stream_chat([{"role": "user", "content": "hi"}], model="m")
              if not isinstance(e, Heartbeat)]
    assert events[-1].error.kind in (errors.CONNECTION, errors.UNKNOWN)
