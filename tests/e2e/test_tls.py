"""TLS on the public listener, with the real binary: a certificate and key given on the command
line are served over HTTPS (and the public URL and cookies follow); on SIGHUP the files are read
again, so new connections get the new certificate while a connection opened before keeps
working; a bad new file leaves the old certificate in place; and a start with a missing or
mismatched key stops with a clear error."""

import datetime
import http.client
import ipaddress
import json
import os
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import BIN, Server, free_port


def make_certificate(directory, name):
    """A self-signed certificate for 127.0.0.1 with its key, as PEM files; answers the paths and
    the certificate's DER bytes."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(directory, f"{name}.crt"), os.path.join(directory, f"{name}.key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(key_path, 0o600)
    return cert_path, key_path, cert.public_bytes(serialization.Encoding.DER)


def copy(src, dst):
    with open(src, "rb") as f, open(dst, "wb") as g:
        g.write(f.read())
    os.chmod(dst, 0o600)


def trusting(*cert_paths):
    context = ssl.create_default_context()
    for path in cert_paths:
        context.load_verify_locations(cafile=path)
    return context


def presented(srv, context):
    """The certificate a new connection is shown, with the answer to one request on it."""
    connection = http.client.HTTPSConnection("127.0.0.1", srv.http_port, context=context, timeout=10)
    connection.request("GET", "/healthz")
    answer = json.loads(connection.getresponse().read())
    der = connection.sock.getpeercert(binary_form=True)
    connection.close()
    return der, answer


def test_https_with_a_certificate_reloaded_on_sighup():
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-tls-") as data_dir:
        first_cert, first_key, first_der = make_certificate(data_dir, "first")
        second_cert, second_key, second_der = make_certificate(data_dir, "second")
        live_cert, live_key = os.path.join(data_dir, "live.crt"), os.path.join(data_dir, "live.key")
        copy(first_cert, live_cert)
        copy(first_key, live_key)
        both = trusting(first_cert, second_cert)
        srv = Server(data_dir, tls=(live_cert, live_key, both)).start()
        try:
            assert srv.base.startswith("https://")
            der, answer = presented(srv, both)
            assert der == first_der and answer == {"status": "ok"}
            # HTTP/1.1 is what is spoken, even to a client that would take HTTP/2; and browsers
            # are told to keep to HTTPS.
            offering_h2 = trusting(first_cert, second_cert)
            offering_h2.set_alpn_protocols(["h2", "http/1.1"])
            connection = http.client.HTTPSConnection("127.0.0.1", srv.http_port, context=offering_h2, timeout=10)
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            assert connection.sock.selected_alpn_protocol() == "http/1.1"
            assert response.getheader("Strict-Transport-Security") == "max-age=31536000"
            connection.close()
            # Plain HTTP on the TLS port is not served.
            plain = http.client.HTTPConnection("127.0.0.1", srv.http_port, timeout=5)
            try:
                plain.request("GET", "/healthz")
                status = plain.getresponse().status
            except (ConnectionError, http.client.HTTPException, OSError):
                status = None
            assert status is None
            # Emailed links use https (the public URL follows TLS).
            log = open(os.path.join(data_dir, "server.log")).read()
            assert f"public API on https://127.0.0.1:{srv.http_port}" in log

            # A connection opened before the reload keeps its certificate and keeps working.
            before = http.client.HTTPSConnection("127.0.0.1", srv.http_port, context=both, timeout=10)
            before.request("GET", "/healthz")
            before.getresponse().read()
            copy(second_cert, live_cert)
            copy(second_key, live_key)
            srv.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while presented(srv, both)[0] != second_der and time.time() < deadline:
                time.sleep(0.1)
            assert presented(srv, both)[0] == second_der
            before.request("GET", "/healthz")
            assert json.loads(before.getresponse().read()) == {"status": "ok"}
            assert before.sock.getpeercert(binary_form=True) == first_der
            before.close()

            # A broken file on the next SIGHUP: the certificate in use stays, the reason is logged.
            with open(live_key, "w") as f:
                f.write("not a key")
            srv.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while "reload failed" not in open(os.path.join(data_dir, "server.log")).read() and time.time() < deadline:
                time.sleep(0.1)
            assert "the previous certificate stays" in open(os.path.join(data_dir, "server.log")).read()
            assert presented(srv, both)[0] == second_der
        finally:
            srv.stop()


def test_a_start_with_unusable_tls_files_stops_with_the_reason():
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-tls-bad-") as data_dir:
        cert, key, _ = make_certificate(data_dir, "one")
        _, other_key, _ = make_certificate(data_dir, "two")
        readable = os.path.join(data_dir, "readable.key")
        copy(key, readable)
        os.chmod(readable, 0o644)
        base = [BIN, "serve", "--data-dir", data_dir, "--http-addr", f"127.0.0.1:{free_port()}",
                "--admin-addr", f"127.0.0.1:{free_port()}"]
        for extra, reason in [(["--tls-cert", cert], "tls_cert_file and tls_key_file go together"),
                              (["--tls-cert", cert, "--tls-key", os.path.join(data_dir, "missing.key")], "missing.key"),
                              (["--tls-cert", key, "--tls-key", key], "holds no PEM certificate"),
                              (["--tls-cert", cert, "--tls-key", other_key], "do not make a TLS configuration"),
                              (["--tls-cert", cert, "--tls-key", readable], "readable by others")]:
            out = subprocess.run(base + extra, capture_output=True, text=True, timeout=60)
            assert out.returncode != 0 and reason in out.stderr, (extra, out.stderr[-500:])


def test_sighup_without_tls_is_only_logged():
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-hup-") as data_dir:
        srv = Server(data_dir).start()
        try:
            srv.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            log = os.path.join(data_dir, "server.log")
            while "nothing to reload" not in open(log).read() and time.time() < deadline:
                time.sleep(0.1)
            assert "nothing to reload (TLS is off)" in open(log).read()
            assert srv.proc.poll() is None
            with urllib.request.urlopen(srv.base + "/healthz", timeout=10) as r:
                assert r.status == 200
        finally:
            srv.stop()
