"""
Whether a key or certificate that ``layline.tls`` manages is already what Salt's ``x509_v2``
states would leave alone, checked in-process and cheaply.

``x509.private_key_managed`` and ``x509.certificate_managed`` cost 0.4-1.2 s each on a
converged run: every load of an RSA key runs OpenSSL's full key check, and a remotely signed
certificate asks the CA minion for its signing policy through the master. These functions
load the key without that check (its public part is still compared with the certificate)
and compare the certificate with what Salt's own ``salt.utils.x509.build_crt`` makes of the
same arguments: subject, issuer, public key, signature, extensions and the time left. The
``layline_tls`` states call the ``x509`` states whenever anything here is not certain.
"""

import datetime
import os
import stat

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from salt.exceptions import SaltInvocationError
from salt.utils import x509 as x509util

# what build_crt raises on arguments it cannot use: then the x509 state decides
_UNCERTAIN = (OSError, ValueError, TypeError, KeyError, SaltInvocationError, UnsupportedAlgorithm)


def _regular_file(path):
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def load_key(path, key_size=None):
    """
    The RSA private key in ``path`` when it is a regular file (not a symlink) with an
    unencrypted PEM RSA key (of ``key_size`` bits when given), else None. The key's inner
    consistency is not checked (that is the costly part); the file is root's.
    """
    if not _regular_file(path):
        return None
    try:
        with open(path, "rb") as handle:
            key = serialization.load_pem_private_key(
                handle.read(), password=None, unsafe_skip_rsa_key_validation=True
            )
    except _UNCERTAIN:
        return None
    if not isinstance(key, rsa.RSAPrivateKey):
        return None
    if key_size is not None and key.key_size != key_size:
        return None
    return key


def certificate_changes(
    path, key, days_remaining, signing_cert=None, digest="sha256", now=None, **cert_args
):
    """
    What ``x509.certificate_managed`` would find to change in the PEM certificate ``path``
    for ``key`` (the certificate's private key; the signing key when ``signing_cert`` is
    None: a self-signed CA), signed with ``signing_cert`` (a path) and built from
    ``cert_args`` (``CN``, ``subjectAltName``, ``basicConstraints``, ...: the state's
    arguments). ``{}`` when nothing; else a mapping naming what differs, or ``uncertain``.
    """
    if not _regular_file(path):
        return {"created": path}
    now = now or datetime.datetime.now(tz=datetime.timezone.utc)
    try:
        current = x509util.load_cert(path)
        self_signed = signing_cert is None
        builder, _key, _loaded, signing = x509util.build_crt(
            key if self_signed else None,
            skip_load_signing_private_key=not self_signed,
            signing_cert=signing_cert,
            private_key=None if self_signed else key,
            **cert_args,
        )
        changes = {}
        if current.not_valid_after_utc < now + datetime.timedelta(days=days_remaining):
            changes["expiration"] = True
        if not isinstance(
            current.signature_hash_algorithm, type(x509util.get_hashing_algorithm(digest))
        ):
            changes["digest"] = digest
        if not x509util.match_pubkey(key.public_key(), current.public_key()):
            changes["private_key"] = True
        issuer_key = (current if self_signed else signing).public_key()
        if not x509util.verify_signature(current, issuer_key):
            changes["signing_private_key"] = True
        if x509util.getattr_safe(builder, "_subject_name") != current.subject:
            changes["subject_name"] = True
        if x509util.getattr_safe(builder, "_issuer_name") != current.issuer:
            changes["issuer_name"] = True
        extensions = x509util.compare_exts(current, builder)
        if any(extensions.values()):
            changes["extensions"] = extensions
        return changes
    except _UNCERTAIN as exc:
        return {"uncertain": f"{type(exc).__name__}: {exc}"}
