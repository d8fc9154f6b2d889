"""The simulator's MySQL TLS, as Connector/J does it with sslMode=VERIFY_IDENTITY: the CA
comes from the JKS truststore the JDBC URL names, the server's certificate must chain to
it and name the URL's host; anything else is refused with Connector/J's words."""

import importlib.util
import os
import pathlib
import shutil
import socket
import ssl
import subprocess
import sys
import threading

import pytest
from layline_sim import truststore
from layline_sim.config import _mysql_settings
from layline_sim.journal import JournalError, _tls_message, tls_context

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "test" / "unit"))
from pkisupport import CA  # noqa: E402

PASSWORD = "changeit"  # noqa: S105 - the formula's public truststore password
URL = (
    "jdbc:mysql://ll-mysql.orb.local:3306/layline?sslMode=VERIFY_IDENTITY"
    "&trustCertificateKeyStoreUrl=file:{store}&trustCertificateKeyStoreType=JKS"
    "&trustCertificateKeyStorePassword=changeit&serverTimezone=UTC"
)


def _formula_truststore(ca, path):
    """The truststore as the formula writes it (_modules/layline_db.py)."""
    spec = importlib.util.spec_from_file_location(
        "layline_db_sim_tls", ROOT / "_modules" / "layline_db.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    entries = [("layline-ca", ca.der, 0)]
    path.write_bytes(module.jks_encode(entries, PASSWORD))
    return path


def test_url_names_the_truststore(tmp_path):
    s = _mysql_settings("mysql", URL.format(store="/etc/layline/tls/truststore.jks"), "u", "p")
    assert (s.ssl_required, s.ssl_verify, s.ssl_verify_identity) == (True, True, True)
    assert s.truststore_url == "file:/etc/layline/tls/truststore.jks"
    assert (s.truststore_type, s.truststore_password) == ("JKS", PASSWORD)
    assert PASSWORD not in s.describe() and "host name verified" in s.describe()
    plain = _mysql_settings("mysql", "jdbc:mysql://db/layline?sslMode=DISABLED", "u", "p")
    assert (plain.ssl_required, plain.ssl_verify) == (False, False)
    ca_only = _mysql_settings("mysql", "jdbc:mysql://db/layline?sslMode=VERIFY_CA", "u", "p")
    assert (ca_only.ssl_verify, ca_only.ssl_verify_identity) == (True, False)


def test_reader_reads_the_formulas_truststore_and_checks_the_password(tmp_path):
    ca = CA(tmp_path / "pki")
    store = _formula_truststore(ca, tmp_path / "truststore.jks")
    assert truststore.load(f"file:{store}", "JKS", PASSWORD) == [ca.der]
    with pytest.raises(truststore.TruststoreError, match="password was incorrect"):
        truststore.load(f"file:{store}", "JKS", "wrong")
    damaged = bytearray(store.read_bytes())
    damaged[40] ^= 1
    (tmp_path / "damaged.jks").write_bytes(bytes(damaged))
    with pytest.raises(truststore.TruststoreError, match="tampered"):
        truststore.load(str(tmp_path / "damaged.jks"), "JKS", PASSWORD)
    with pytest.raises(truststore.TruststoreError, match="JKS truststores only"):
        truststore.load(f"file:{store}", "PKCS12", PASSWORD)
    with pytest.raises(truststore.TruststoreError, match="Cannot open file:/nonexistent"):
        truststore.load("file:/nonexistent/t.jks", "JKS", PASSWORD)


@pytest.mark.skipif(shutil.which("keytool") is None, reason="needs the JDK's keytool")
def test_reader_reads_a_truststore_made_by_keytool(tmp_path):
    ca = CA(tmp_path / "pki")
    store = tmp_path / "keytool.jks"
    subprocess.run(
        [
            "keytool",
            "-importcert",
            "-noprompt",
            "-alias",
            "some-ca",
            "-file",
            str(ca.path),
            "-keystore",
            str(store),
            "-storepass",
            "s3cret-store",
            "-storetype",
            "JKS",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert truststore.load(f"file:{store}", "JKS", "s3cret-store") == [ca.der]


class _TLSServer:
    """Accepts one TLS handshake with the given certificate (stands in for MariaDB's)."""

    def __init__(self, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.sock.accept()
        try:
            with self.ctx.wrap_socket(conn, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass

    def handshake(self, context, hostname):
        with (
            socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=hostname) as tls,
        ):
            return tls.version()

    def close(self):
        self.sock.close()
        self.thread.join(5)


def _settings(store):
    return _mysql_settings("mysql", URL.format(store=store), "layline", "pw")


@pytest.mark.parametrize(
    "names,accepted",
    [
        (["ll-mysql.orb.local", "10.231.7.10"], True),
        (["ll-other.orb.local", "10.231.7.10"], False),
    ],
)
def test_verify_identity_checks_the_server_name(tmp_path, names, accepted):
    ca = CA(tmp_path / "pki")
    settings = _settings(_formula_truststore(ca, tmp_path / "truststore.jks"))
    server = _TLSServer(*ca.issue("server", names))
    try:
        context = tls_context(settings)
        if accepted:
            assert server.handshake(context, settings.host).startswith("TLS")
            return
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            server.handshake(context, settings.host)
    finally:
        server.close()
    message = _tls_message(info.value, settings)
    assert message == (
        "Communications link failure: Server identity verification failed. None "
        "of the DNS or IP Subject Alternative Name entries matched the server "
        "hostname/IP 'll-mysql.orb.local'."
    )


def test_a_server_from_another_ca_is_not_trusted(tmp_path):
    ours, theirs = CA(tmp_path / "ours"), CA(tmp_path / "theirs", "someone else's CA")
    settings = _settings(_formula_truststore(ours, tmp_path / "truststore.jks"))
    server = _TLSServer(*theirs.issue("server", ["ll-mysql.orb.local"]))
    try:
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            server.handshake(tls_context(settings), settings.host)
    finally:
        server.close()
    assert "the server certificate is not trusted" in _tls_message(info.value, settings)


def test_a_missing_truststore_fails_the_connection(tmp_path):
    settings = _settings(tmp_path / "missing.jks")
    with pytest.raises(JournalError, match="Communications link failure: Cannot open"):
        tls_context(settings)
    assert not os.path.exists(tmp_path / "missing.jks")
