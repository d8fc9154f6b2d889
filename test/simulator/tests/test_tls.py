"""Artery over mutual TLS (transport tls-tcp, Pekko's RotatingKeysSSLEngineProvider).

Certificates are made here with `cryptography` the way layline.tls makes them: one CA,
RSA node keys (PKCS#8 PEM), every engine certificate with the cluster's common name.
"""

import datetime
import ipaddress
import json
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from simsupport import ARTERY, address, all_up, engine_conf, host, members, wait_for

ENGINE_CN = "layline-Test-engine"


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _cert(subject_key, common_name, issuer_key, issuer_name, ca=False, sans=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer_name)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class Ca:
    """A CA that writes node key/cert/CA files into a directory."""

    def __init__(self, name):
        self.key = _key()
        self.name = _name(name)
        self.cert = _cert(self.key, name, self.key, self.name, ca=True)

    def issue(self, directory, common_name, ip):
        directory.mkdir(parents=True, exist_ok=True)
        key = _key()
        cert = _cert(
            key,
            common_name,
            self.key,
            self.name,
            sans=[x509.DNSName(f"node-{ip}.test"), x509.IPAddress(ipaddress.ip_address(ip))],
        )
        (directory / "node.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        (directory / "node.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / "ca.crt").write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return directory


@pytest.fixture(scope="module")
def cluster_ca():
    return Ca("layline Test cluster CA")


def tls_block(directory):
    return f"""
pekko.remote.artery {{
  transport = tls-tcp
  ssl {{
    ssl-engine-provider = "org.apache.pekko.remote.artery.tcp.ssl.RotatingKeysSSLEngineProvider"
    rotating-keys-engine {{
      key-file = "{directory}/node.key"
      cert-file = "{directory}/node.crt"
      ca-cert-file = "{directory}/ca.crt"
    }}
  }}
}}
"""


def _tls_engine(lab, i, ca, tmp_path, common_name=ENGINE_CN, **kwargs):
    directory = ca.issue(tmp_path / f"tls{i}", common_name, host(i))
    return lab.engine(i, conf=engine_conf(i, extra=tls_block(directory), **kwargs))


def test_engines_form_a_cluster_over_mutual_tls(lab, cluster_ca, tmp_path):
    procs = [_tls_engine(lab, i, cluster_ca, tmp_path) for i in (1, 2, 3)]
    wait_for(lambda: all_up((1, 2, 3), among=(1, 2, 3)), what="3 members Up over TLS")
    for proc in procs:
        assert "Remoting started with transport [Artery tls-tcp]" in proc.log()
        assert "refused Artery connection" not in proc.log()
    # the Artery port speaks TLS only: a plain client gets no answer
    with socket.create_connection((host(1), ARTERY), timeout=3) as sock:
        sock.settimeout(3)
        sock.sendall(json.dumps({"type": "gossip"}).encode() + b"\n")
        try:
            reply = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            reply = b""
    assert b"members" not in reply


def test_joiner_with_a_certificate_of_another_ca_is_refused(lab, cluster_ca, tmp_path):
    for i in (1, 2):
        _tls_engine(lab, i, cluster_ca, tmp_path, seeds=(1, 2))
    wait_for(lambda: all_up((1, 2), among=(1, 2)), what="2 members Up")
    intruder = _tls_engine(lab, 3, Ca("layline Test cluster CA"), tmp_path, seeds=(1, 2))
    wait_for(lambda: "TLS connection to" in intruder.log(), what="the intruder's failed joins")
    wait_for(
        lambda: "refused Artery connection" in lab.procs[0].log(),
        what="node 1 refusing the intruder",
    )
    assert address(3) not in json.dumps(members(1))
    assert all_up((1, 2), among=(1, 2))


def test_cluster_ca_certificate_without_the_cluster_name_is_refused(lab, cluster_ca, tmp_path):
    for i in (1, 2):
        _tls_engine(lab, i, cluster_ca, tmp_path, seeds=(1, 2))
    wait_for(lambda: all_up((1, 2), among=(1, 2)), what="2 members Up")
    # e.g. the config server's or the database's certificate: same CA, its own hostname
    _tls_engine(lab, 3, cluster_ca, tmp_path, common_name="ll-mysql.test", seeds=(1, 2))
    wait_for(
        lambda: "None of the peer subject names" in lab.procs[0].log(),
        what="node 1 refusing a certificate without the cluster's name",
    )
    assert address(3) not in json.dumps(members(1))
    assert all_up((1, 2), among=(1, 2))


@pytest.mark.parametrize("client_cert", [None, "another CA"])
def test_client_without_a_cluster_certificate_is_refused(lab, cluster_ca, tmp_path, client_cert):
    """The engine itself verifies the client: this client trusts any server."""
    _tls_engine(lab, 1, cluster_ca, tmp_path, seeds=(1,))
    wait_for(lambda: all_up((1,), among=(1,)), what="node 1 Up")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if client_cert:
        own = Ca("layline Test cluster CA").issue(tmp_path / "own", ENGINE_CN, host(2))
        context.load_cert_chain(own / "node.crt", own / "node.key")
    with (
        pytest.raises((ssl.SSLError, ConnectionResetError)),
        socket.create_connection((host(1), ARTERY), timeout=3) as raw,
        context.wrap_socket(raw) as sock,
    ):
        sock.sendall(json.dumps({"type": "gossip"}).encode() + b"\n")
        sock.recv(65536)
    reason = "certificate verify failed" if client_cert else "certificate"
    wait_for(
        lambda: "refused Artery connection" in lab.procs[0].log() and reason in lab.procs[0].log(),
        what="the refusal logged with its reason",
    )
    assert all_up((1,), among=(1,))


def test_tls_transport_without_key_file_exits_naming_the_key(lab, tmp_path):
    conf = engine_conf(1, extra=tls_block(tmp_path / "missing"))
    proc = lab.engine(1, conf=conf)
    assert proc.wait(20) == 1
    assert "pekko.remote.artery.ssl.rotating-keys-engine.key-file" in proc.stderr()


def test_keystore_engine_provider_is_refused_by_name(lab, tmp_path):
    conf = engine_conf(1, extra="pekko.remote.artery.transport = tls-tcp\n")
    proc = lab.engine(1, conf=conf)
    assert proc.wait(20) == 1
    assert "pekko.remote.artery.ssl.ssl-engine-provider" in proc.stderr()
