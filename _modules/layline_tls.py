"""
Execution module for the layline cluster CA: remote signing with Salt's ``x509_v2``.

The CA minion (``layline:tls:ca_minion``, default the config server's minion) holds
the CA key and signs the other layline minions' certificates through Salt's peer
interface: the master's ``peer`` configuration must allow
``x509.sign_remote_certificate``. The CA minion serves one signing policy per minion,
``x509_signing_policies:<layline:tls:signing_policy>-<minion id>``, generated from its
layline pillar (``_utils/layline_signing.py``: every field of the certificate fixed by the
policy, none left to the requester; the state ``layline_tls.signing_policies_managed``
and the grain of ``_grains/layline_ca.py``; docs/tls-network.md).
This module reads the CA certificate from the Salt mine, where the CA minion publishes
it (``layline_tls.ca_published``; one master request), else asks the CA minion for it,
and turns every way that can fail into a message that names what is missing; on the CA
minion it builds and checks the policies.

:depends: cryptography (Salt's own dependency)
"""

import logging

from salt.exceptions import CommandExecutionError

import layline_signing
import layline_sync

# a re-sync in this process takes effect (see layline_sync)
layline_sync.refresh(layline_signing)

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
        f"['x509.sign_remote_certificate']}}) and {ca_server} must serve "
        f"x509_signing_policies:{signing_policy} (its state.apply layline writes it, see "
        "docs/tls-network.md)"
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
            f"CA minion {ca_server} has no signing policy {signing_policy!r}: its "
            "state.apply layline writes one for every minion its layline pillar names "
            f"(layline_tls.signing_policies there): is this minion in {ca_server}'s layline "
            f"pillar, and has {ca_server} applied layline since it was added?"
        )
    if any(_NOT_PERMITTED in error for error in errors):
        raise CommandExecutionError(
            f"this minion is not x509_signing_policies:{signing_policy}:minions of CA "
            f"minion {ca_server}: a policy of that name in {ca_server}'s pillar names "
            "another minion (remove it: the formula serves its own, see docs/tls-network.md)"
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


def _mined(ca_server):
    """PEM of the CA certificate ``ca_server`` published in the mine, or None: not published
    yet, no master cache, or not a certificate (then the peer call decides)."""
    try:
        found = __salt__["mine.get"](ca_server, layline_signing.CA_MINE_ENTRY, tgt_type="list").get(
            ca_server
        )
    except Exception as exc:  # pylint: disable=broad-except  # any doubt: ask the CA minion
        log.debug("layline_tls: mine.get of %s failed: %s", ca_server, exc)
        return None
    if not found:
        return None
    try:
        return _pem(found)
    except (TypeError, ValueError) as exc:
        log.warning(
            "layline_tls: mine entry %s of %s is not a certificate (%s): asking %s",
            layline_signing.CA_MINE_ENTRY,
            ca_server,
            exc,
            ca_server,
        )
        return None


def ca_certificate(ca_server, signing_policy=None, timeout=60, from_mine=True):
    """
    Return the PEM text of the CA certificate that ``ca_server`` signs with under
    ``signing_policy``: the one it published in the Salt mine
    (``layline_tls.ca_published``), else asked through the master's peer interface (the
    same call ``x509.certificate_managed`` makes with ``ca_server``). Raises
    CommandExecutionError naming the missing piece: the master's ``peer``
    configuration, the CA minion's ``x509_signing_policies`` pillar, or its CA
    certificate that does not exist yet.

    ca_server
        minion id of the CA (``layline:tls:ca_minion``)

    signing_policy
        name of this minion's signing policy (``layline.tls_plan``'s ``signing_policy``;
        default ``layline-<this minion's id>``)

    from_mine
        False: ask the CA minion even when the mine has the certificate (its answer also
        proves that it serves ``signing_policy``)

    CLI Example:

    .. code-block:: bash

        salt 'll-node-1' layline_tls.ca_certificate ll-config-server
    """
    if signing_policy is None:
        signing_policy = layline_signing.policy_name(__opts__["id"])
    mined = _mined(ca_server) if from_mine else None
    if mined:
        return mined
    result = __salt__["publish.publish"](
        ca_server, "x509.sign_remote_certificate", arg=[signing_policy, {}, True], timeout=timeout
    )
    if not result or ca_server not in result:
        raise CommandExecutionError(
            f"CA minion {ca_server} did not answer x509.sign_remote_certificate: it must be "
            f"up, and {_setup_hint(ca_server, signing_policy)}"
        )
    return _explain(ca_server, signing_policy, result[ca_server])


def _wanted(config=None):
    """(this minion's TLS plan, the policies it must hold as the CA minion, or {})."""
    plan = __salt__["layline.tls_plan"](config=config)
    if not plan.get("enabled") or not plan.get("is_ca"):
        return plan, {}
    plans = {
        minion: __salt__["layline.tls_plan"](config=config, minion_id=minion)
        for minion in plan.get("signed_minions") or []
    }
    try:
        wanted = layline_signing.policies(
            plans, plan["ca_key"], plan["ca_cert"], plan.get("signing_prefix")
        )
    except layline_signing.SigningError as exc:
        raise CommandExecutionError(str(exc)) from None
    return plan, wanted


def signing_policies(config=None):
    """
    Return the signing policies this CA minion must hold in its pillar
    ``x509_signing_policies``: one per other layline minion, named
    ``<layline:tls:signing_policy>-<minion id>`` (default ``layline-<minion id>``), that
    fixes the minion (exactly its id), the CA key and certificate, the subject (CN), the
    subjectAltName (the minion's names and addresses, as ``layline.tls_plan`` gives them),
    the key usages and the validity (``layline:tls:days``), so that the requesting minion
    chooses nothing. Only engine minions get the engine subject. Empty on any other minion.
    Contains paths and names only, no secret.

    CLI Example:

    .. code-block:: bash

        salt 'll-config-server' layline_tls.signing_policies
    """
    return _wanted(config)[1]


def signing_pillar(config=None):
    """
    Return the text of a pillar SLS file with this CA minion's
    ``x509_signing_policies`` (:py:func:`signing_policies`). Not needed: the formula
    serves the same policies itself (``layline_tls.signing_policies_managed``); for an
    operator who keeps them in the pillar of the CA minion (then regenerate after every
    change of the layline pillar, see docs/tls-network.md):

    CLI Example:

    .. code-block:: bash

        salt --out=newline_values_only ll-config-server layline_tls.signing_pillar \
            > /srv/pillar/layline_signing.sls
    """
    return layline_signing.render(signing_policies(config))


def signing_problems(config=None):
    """
    Return what is wrong with this minion's pillar ``x509_signing_policies`` when it is
    the layline CA minion and signs for other minions (a list of messages, each naming
    the key). The formula serves its own policies (:py:func:`signing_policies`, the grain
    of ``_grains/layline_ca.py``), so the pillar needs none; but ``x509_v2`` reads the
    pillar first, so a pillar policy of the same name that matches another minion or a
    glob, leaves CN, subjectAltName or the validity to the requester, or signs with
    another key is refused. Empty on every other minion.

    CLI Example:

    .. code-block:: bash

        salt 'll-config-server' layline_tls.signing_problems
    """
    _, wanted = _wanted(config)
    if not wanted:
        return []
    found = __salt__["pillar.get"](layline_signing.PILLAR_KEY, {}, unmask=True)
    return layline_signing.problems(wanted, found, required=False)
