"""
Execution module for the layline cluster CA: remote signing with Salt's ``x509_v2``.

The CA minion (``layline:tls:ca_minion``, default the config server's minion) holds
the CA key and signs the other layline minions' certificates through Salt's peer
interface: the master's ``peer`` configuration must allow
``x509.sign_remote_certificate`` and the CA minion's pillar must carry the signing
policy ``x509_signing_policies:<layline:tls:signing_policy>`` (see README, TLS).
This module asks the CA minion for its CA certificate and turns every way that can
fail into a message that names what is missing.

:depends: cryptography (Salt's own dependency)
"""

import logging

from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "layline_tls"

# the answers of x509.sign_remote_certificate (salt/modules/x509_v2.py) we explain
_NO_POLICY = "signing_policy must be specified and defined on signing minion"
_NOT_PERMITTED = "minion not permitted to use specified signing policy"


def __virtual__():
    return __virtualname__


class CaNotReady(CommandExecutionError):
    """The CA minion answered but has no CA certificate yet: worth waiting for."""


def _setup_hint(ca_server, signing_policy):
    return (
        f"the master's configuration must allow it (peer: {{'.*': "
        f"['x509.sign_remote_certificate']}}) and {ca_server}'s pillar must define "
        f"x509_signing_policies:{signing_policy} (see README, TLS)"
    )


def _pem(der_or_pem):
    """The certificate the CA minion sent (DER bytes or PEM text) as PEM text."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if isinstance(der_or_pem, str):
        cert = x509.load_pem_x509_certificate(der_or_pem.encode())
    else:
        cert = x509.load_der_x509_certificate(bytes(der_or_pem))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _explain(ca_server, signing_policy, reply):
    """PEM of the CA certificate in a sign_remote_certificate reply, or raise why not."""
    if not isinstance(reply, dict) or "data" not in reply:
        raise CommandExecutionError(
            f"CA minion {ca_server} cannot sign certificates: it answered {reply!r} "
            "(Salt's x509_v2 module and the cryptography library must be available there)"
        )
    errors = [str(error) for error in reply.get("errors") or []]
    if any(_NO_POLICY in error for error in errors):
        raise CommandExecutionError(
            f"CA minion {ca_server} has no signing policy {signing_policy!r}: add "
            f"x509_signing_policies:{signing_policy} to its pillar (see README, TLS)"
        )
    if any(_NOT_PERMITTED in error for error in errors):
        raise CommandExecutionError(
            f"this minion is not in x509_signing_policies:{signing_policy}:minions of CA "
            f"minion {ca_server}: add it to that pillar value"
        )
    if errors:
        # the policy's signing_cert does not load: the CA minion has not made its CA yet
        raise CaNotReady(f"CA minion {ca_server} has no CA certificate yet: " + "; ".join(errors))
    data = reply.get("data") or {}
    if not data.get("signing_cert"):
        raise CommandExecutionError(
            f"x509_signing_policies:{signing_policy} of CA minion {ca_server} has no "
            "signing_cert: set it to the CA certificate (see README, TLS)"
        )
    return _pem(data["signing_cert"])


def ca_certificate(ca_server, signing_policy="layline", timeout=60):
    """
    Return the PEM text of the CA certificate that ``ca_server`` signs with under
    ``signing_policy``, asked through the master's peer interface (the same call
    ``x509.certificate_managed`` makes with ``ca_server``). Raises
    CommandExecutionError naming the missing piece: the master's ``peer``
    configuration, the CA minion's ``x509_signing_policies`` pillar, or its CA
    certificate that does not exist yet.

    ca_server
        minion id of the CA (``layline:tls:ca_minion``)

    signing_policy
        name of the signing policy (``layline:tls:signing_policy``)

    CLI Example:

    .. code-block:: bash

        salt 'll-node-1' layline_tls.ca_certificate ll-config-server
    """
    result = __salt__["publish.publish"](
        ca_server, "x509.sign_remote_certificate", arg=[signing_policy, {}, True], timeout=timeout
    )
    if not result or ca_server not in result:
        raise CommandExecutionError(
            f"CA minion {ca_server} did not answer x509.sign_remote_certificate: it must be "
            f"up, and {_setup_hint(ca_server, signing_policy)}"
        )
    return _explain(ca_server, signing_policy, result[ca_server])


def signing_policy_problem(signing_policy, signing_private_key, signing_cert):
    """
    Return None when this minion's pillar defines ``x509_signing_policies:<signing_policy>``
    with the given CA key and certificate, else a message that names what is wrong.
    Called on the CA minion (it signs the other minions' certificates).

    CLI Example:

    .. code-block:: bash

        salt 'll-config-server' layline_tls.signing_policy_problem layline \\
            /etc/layline/ca/ca.key /etc/layline/tls/ca.crt
    """
    policy = __salt__["pillar.get"]("x509_signing_policies", {}, unmask=True) or {}
    policy = policy.get(signing_policy) if isinstance(policy, dict) else None
    if isinstance(policy, list):
        merged = {}
        for item in policy:
            if isinstance(item, dict):
                merged.update(item)
        policy = merged
    key = f"x509_signing_policies:{signing_policy}"
    if not policy:
        return (
            f"the pillar of this CA minion has no {key}: the other layline minions cannot "
            "get their certificates signed (see README, TLS, for the policy to add)"
        )
    wrong = [
        f"{key}:{name} must be {want!r}, not {policy.get(name)!r}"
        for name, want in (
            ("signing_private_key", signing_private_key),
            ("signing_cert", signing_cert),
        )
        if policy.get(name) != want
    ]
    return "; ".join(wrong) or None
