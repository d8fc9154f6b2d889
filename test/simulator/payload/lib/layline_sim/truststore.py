"""Reading a Java KeyStore (JKS) truststore, as Connector/J loads ``trustCertificateKeyStoreUrl``.

Only what the simulator needs: the trusted certificates (DER) of a JKS file, after the
keyed SHA-1 checksum is checked with the store password (a wrong password or a changed
file fails like ``KeyStore.load``: "Keystore was tampered with, or password was incorrect").
Private-key entries are skipped. PKCS#12 stores are not read (the formula writes JKS).
"""

import hashlib
import struct

MAGIC = 0xFEEDFEED
PRIVATE_KEY = 1
TRUSTED_CERT = 2
WHITENER = b"Mighty Aphrodite"
DIGEST_LEN = 20


class TruststoreError(Exception):
    """The truststore cannot be used (the message names the file)."""


class _Reader:
    def __init__(self, data, where):
        self.data, self.pos, self.where = data, 0, where

    def take(self, count):
        if self.pos + count > len(self.data):
            raise TruststoreError(f"{self.where}: truncated JKS keystore")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def utf(self):
        return self.take(self.u16()).decode("utf-8", "replace")

    def blob(self):
        return self.take(self.u32())


def parse_jks(data, password, where="truststore"):
    """``[(alias, der)]`` of the trusted certificates in the JKS bytes ``data``."""
    if len(data) < 12 + DIGEST_LEN:
        raise TruststoreError(f"{where}: not a JKS keystore (too short)")
    body, digest = data[:-DIGEST_LEN], data[-DIGEST_LEN:]
    secret = (password or "").encode("utf-16-be")
    if hashlib.sha1(secret + WHITENER + body).digest() != digest:  # noqa: S324 - JKS format
        raise TruststoreError(f"{where}: Keystore was tampered with, or password was incorrect")
    reader = _Reader(body, where)
    magic, version, count = reader.u32(), reader.u32(), reader.u32()
    if magic != MAGIC or version not in (1, 2):
        raise TruststoreError(f"{where}: not a JKS keystore (magic {magic:#x}, version {version})")
    certs = []
    for _ in range(count):
        tag = reader.u32()
        alias = reader.utf()
        reader.take(8)  # creation time
        if tag == TRUSTED_CERT:
            if version == 2:
                cert_type = reader.utf()
                if cert_type != "X.509":
                    raise TruststoreError(f"{where}: entry {alias!r} is a {cert_type} certificate")
            certs.append((alias, reader.blob()))
        elif tag == PRIVATE_KEY:
            reader.blob()  # the protected key
            for _chain in range(reader.u32()):
                if version == 2:
                    reader.utf()
                reader.blob()
        else:
            raise TruststoreError(f"{where}: unknown JKS entry type {tag}")
    return certs


def load(url, store_type, password):
    """DER certificates of the truststore at ``url`` (``file:/path`` or a plain path)."""
    if str(store_type or "JKS").upper() != "JKS":
        raise TruststoreError(
            f"trustCertificateKeyStoreType {store_type!r}: the simulator reads JKS truststores only"
        )
    path = url[len("file:") :] if url.startswith("file:") else url
    while path.startswith("//"):
        path = path[1:]
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise TruststoreError(f"Cannot open {url} [{exc.strerror}]") from exc
    certs = parse_jks(data, password, url)
    if not certs:
        raise TruststoreError(f"{url}: the truststore holds no trusted certificate")
    return [der for _alias, der in certs]
