"""
Grain ``x509_signing_policies`` of the layline CA minion: the signing policies the formula
generated from the layline pillar (``layline_tls.signing_policies_managed`` writes them to
``layline_signing.POLICY_FILE``, root 0600), one per other layline minion, every field fixed.

Salt's ``x509.sign_remote_certificate`` looks a policy up in the pillar and then with
``config.get``, which reads the minion's options, then its grains: so a node added to the
layline pillar gets its policy on the CA minion's next ``state.apply`` with no pillar file
to regenerate. A file that is not a regular file owned by root in a root-owned directory,
writable by nobody else, is ignored. Other minions have no such file and no such grain.
"""

import json
import logging
import os
import stat

try:
    import layline_signing

    HAS_UTILS = True
except ImportError:  # the utils are not synced yet
    HAS_UTILS = False

log = logging.getLogger(__name__)

__virtualname__ = "layline_ca"

_LIMIT = 1 << 20


def __virtual__():
    if not HAS_UTILS:
        return False, "the layline formula's _utils are not synced"
    return __virtualname__


def _root_only(info):
    return info.st_uid == 0 and not info.st_mode & 0o022


def _read(path):
    """The policies in ``path``, or None when it is absent or not root's alone."""
    directory = os.path.dirname(path)
    try:
        if not _root_only(os.stat(directory, follow_symlinks=False)):
            log.warning("layline_ca: %s is not root's alone: its policies are ignored", directory)
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or not _root_only(info) or info.st_size > _LIMIT:
            log.warning("layline_ca: %s is not a root-only regular file: ignored", path)
            return None
        try:
            data = json.loads(handle.read(_LIMIT))
        except ValueError:
            log.warning("layline_ca: %s is not JSON: ignored", path)
            return None
    return data if isinstance(data, dict) and data else None


def signing_policies():
    """{'x509_signing_policies': {...}} on the CA minion once the formula wrote them, else {}."""
    found = _read(layline_signing.POLICY_FILE)
    return {layline_signing.PILLAR_KEY: found} if found else {}
