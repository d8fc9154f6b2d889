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

try:
    import layline_files
    import layline_signing

    HAS_UTILS = True
except ImportError:  # the utils are not synced yet
    HAS_UTILS = False

log = logging.getLogger(__name__)

__virtualname__ = "layline_ca"


def __virtual__():
    if not HAS_UTILS:
        return False, "the layline formula's _utils are not synced"
    return __virtualname__


def _read(path):
    """The policies in ``path``, or None when it is absent or not root's alone."""
    try:
        data = json.loads(layline_files.read_bounded(path, root_only=True))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # a link, not root's, not JSON: never served
        log.warning("layline_ca: %s ignored: %s", path, exc)
        return None
    return data if isinstance(data, dict) and data else None


def signing_policies():
    """{'x509_signing_policies': {...}} on the CA minion once the formula wrote them, else {}."""
    found = _read(layline_signing.POLICY_FILE)
    return {layline_signing.PILLAR_KEY: found} if found else {}
