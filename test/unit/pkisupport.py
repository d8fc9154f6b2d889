"""A throw-away PKI for the TLS tests: a CA and certificates it signs, as PEM files.

Stands in for layline.tls (x509_v2) on the host: ``make_pki(dir, names)`` writes
``ca.crt``, ``ca.key`` and, per certificate, ``<stem>.crt``/``<stem>.key``. A certificate
names DNS names and IP addresses in its subjectAltName; ``other_ca`` makes a second,
unrelated CA for "signed by someone else" cases.
"""

import datetime
import ipaddress
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DAY = datetime.timedelta(days=1)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path, key):
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


class CA:
    """A self-signed CA that signs server certificates."""

    def __init__(self, directory, common_name="layline test CA", stem="ca"):
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - DAY)
            .not_valid_after(now + 30 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        self.path = self.dir / f"{stem}.crt"
        self.path.write_bytes(self.pem)
        _write_key(self.dir / f"{stem}.key", self.key)

    @property
    def pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self):
        return self.cert.public_bytes(serialization.Encoding.DER)

    def fingerprint(self, algorithm=hashes.SHA256):
        """``AA:BB:...`` as keytool prints it."""
        return ":".join(f"{b:02X}" for b in self.cert.fingerprint(algorithm()))

    def issue(self, stem, names):
        """Sign a server certificate for ``names`` (DNS names or IP literals);
        returns (cert path, key path)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        alt = []
        for name in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - DAY)
            .not_valid_after(now + 30 * DAY)
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH, x509.OID_CLIENT_AUTH]), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        crt, pkey = self.dir / f"{stem}.crt", self.dir / f"{stem}.key"
        crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(pkey, key)
        return crt, pkey
