"""
The cluster CA's signing policies (Salt ``x509_v2``), one per layline minion, the file the CA
minion serves them from (its grain), and the check that no pillar policy widens them.

Pure functions over the per-minion TLS plans (``layline.tls_plan``): no ``__salt__``.

Why one policy per minion, with every field fixed. ``x509.sign_remote_certificate`` on the
CA minion merges the policy over the request (``salt.utils.x509.merge_signing_policy``:
``kwargs.update(policy)``): what the policy sets wins, what it leaves out the requester
chooses. So a policy fixes:

- ``minions``: the one minion id (``match.glob`` on a name without ``*?[`` and ``@`` is
  equality);
- the CA's ``signing_private_key`` and ``signing_cert``;
- the subject: ``subject`` (a mapping with only ``CN``; with it set, ``build_crt`` ignores
  the request's other name attributes such as ``O``) and ``CN``;
- ``subjectAltName``, ``basicConstraints``, ``keyUsage``, ``extendedKeyUsage``,
  ``authorityKeyIdentifier``, and ``None`` (``build_crt``: "signing policies need to be able
  to force-unset extensions") for every other certificate extension Salt knows;
- the validity: ``days_valid``, with ``not_before`` / ``not_after`` set to ``None`` (an
  explicit ``not_after`` in the request would win over ``days_valid``);
- ``csr: None`` (a CSR's own extensions are copied for every extension the policy did not
  add), ``serial_number: None`` (random), ``copypath: None`` (no file written on the CA),
  ``digest: sha256``.
"""

import re

# the policy name of a minion: <layline:tls:signing_policy>-<minion id>
DEFAULT_PREFIX = "layline"
PILLAR_KEY = "x509_signing_policies"
# the Salt mine entry under which the CA minion publishes its CA certificate (PEM)
CA_MINE_ENTRY = "layline_ca_certificate"
# the CA minion's policies as the formula generates them (root 0600): the grain
# x509_signing_policies (_grains/layline_ca.py) serves them to x509.sign_remote_certificate,
# which looks them up with config.get when the pillar has no policy of that name
POLICY_FILE = "/var/lib/layline-formula/x509_signing_policies.json"
DIGEST = "sha256"

# the extensions of the formula's certificates (layline/tls/init.sls requests the same)
BASIC_CONSTRAINTS = "critical, CA:FALSE"
KEY_USAGE = "critical, digitalSignature, keyEncipherment"
EXTENDED_KEY_USAGE = "serverAuth, clientAuth"
AUTHORITY_KEY_IDENTIFIER = "keyid:always"

# every certificate extension of salt.utils.x509.CERT_EXTS (Salt 3008); the ones the
# formula does not use are forced off (a unit test keeps this list equal to Salt's)
CERT_EXTENSIONS = (
    "basicConstraints",
    "keyUsage",
    "extendedKeyUsage",
    "subjectKeyIdentifier",
    "authorityKeyIdentifier",
    "issuerAltName",
    "authorityInfoAccess",
    "subjectAltName",
    "crlDistributionPoints",
    "certificatePolicies",
    "policyConstraints",
    "inhibitAnyPolicy",
    "nameConstraints",
    "noCheck",
    "tlsfeature",
    "nsComment",
    "nsCertType",
)

# a minion id that match.glob / match.compound could widen
_PATTERN_RE = re.compile(r"[*?\[\]@,\s]")


class SigningError(ValueError):
    """A policy cannot be built; the message names the minion."""


def policy_name(minion_id, prefix=DEFAULT_PREFIX):
    """The name of ``minion_id``'s signing policy: ``<prefix>-<minion id>``."""
    return f"{prefix or DEFAULT_PREFIX}-{minion_id}"


def policy(minion_id, plan, ca_key, ca_cert):
    """
    The signing policy (a mapping) of ``minion_id`` from its TLS plan (``common_name``,
    ``subject_alt_name``, ``days``), signed with ``ca_key`` / ``ca_cert`` of the CA minion.
    Raises SigningError for a minion id that would match more than one minion.
    """
    if not isinstance(minion_id, str) or not minion_id or _PATTERN_RE.search(minion_id):
        raise SigningError(
            f"minion id {minion_id!r} cannot have a signing policy: a policy's minions must "
            "name exactly one minion (no whitespace, ',', '@' or glob characters)"
        )
    if not plan.get("enabled"):
        raise SigningError(f"minion {minion_id} has no certificate of the formula")
    fixed = {
        "minions": minion_id,
        "signing_private_key": ca_key,
        "signing_cert": ca_cert,
        "subject": {"CN": plan["common_name"]},
        "CN": plan["common_name"],
        "days_valid": plan["days"],
        "not_before": None,
        "not_after": None,
        "csr": None,
        "serial_number": None,
        "copypath": None,
        "digest": DIGEST,
    }
    extensions = {name: None for name in CERT_EXTENSIONS}
    extensions.update(
        {
            "basicConstraints": BASIC_CONSTRAINTS,
            "keyUsage": KEY_USAGE,
            "extendedKeyUsage": EXTENDED_KEY_USAGE,
            "authorityKeyIdentifier": AUTHORITY_KEY_IDENTIFIER,
            "subjectAltName": plan["subject_alt_name"],
        }
    )
    fixed.update(extensions)
    return fixed


def policies(plans, ca_key, ca_cert, prefix=DEFAULT_PREFIX):
    """
    ``{policy name: policy}`` for every minion of ``plans`` (``{minion id: tls plan}``, the
    minions the CA signs for, itself excluded), in minion id order.
    """
    return {
        policy_name(minion_id, prefix): policy(minion_id, plans[minion_id], ca_key, ca_cert)
        for minion_id in sorted(plans)
    }


def as_mapping(found):
    """A pillar policy (a mapping or Salt's list of one-key mappings) as one mapping."""
    if isinstance(found, dict):
        return dict(found)
    if isinstance(found, list):
        merged = {}
        for item in found:
            if isinstance(item, dict):
                merged.update(item)
        return merged
    return None


def problems(wanted, pillar_policies, required=True):
    """
    What is wrong with the CA minion's pillar ``x509_signing_policies`` (``pillar_policies``)
    against the ``wanted`` policies (:py:func:`policies`): a list of messages, each naming the
    key (``x509_signing_policies:<name>[:<field>]``); empty when every policy is there and
    fixes every field to the wanted value. With ``required`` False a policy the pillar does
    not have is no problem (the formula's own file serves it, see ``POLICY_FILE``); one it
    has must still be the formula's, because ``x509_v2`` reads the pillar first.
    """
    if pillar_policies is None:
        pillar_policies = {}
    if not isinstance(pillar_policies, dict):
        return [f"{PILLAR_KEY}: must be a mapping of policy names to policies"]
    found = []
    for name, want in wanted.items():
        key = f"{PILLAR_KEY}:{name}"
        if not required and pillar_policies.get(name) is None:
            continue
        have = as_mapping(pillar_policies.get(name))
        if not have:
            found.append(
                f"{key}: missing: {want['minions']} cannot have its certificate signed "
                "(add the formula's policies, see docs/tls-network.md)"
            )
            continue
        for field, value in want.items():
            if field not in have:
                found.append(
                    f"{key}:{field}: not set, so the requesting minion would choose it; "
                    f"must be {value!r}"
                )
            elif have[field] != value:
                found.append(f"{key}:{field}: must be {value!r}, not {have[field]!r}")
    found.extend(_foreign(wanted, pillar_policies))
    return found


def _foreign(wanted, pillar_policies):
    """Pillar policies that are not the formula's but sign with its CA (the old catch-all
    ``minions: '*'``): any minion they permit could get any name signed."""
    ca_files = {
        value
        for want in wanted.values()
        for value in (want["signing_private_key"], want["signing_cert"])
    }
    found = []
    for name in sorted(set(pillar_policies) - set(wanted), key=str):
        have = as_mapping(pillar_policies.get(name)) or {}
        if {have.get("signing_private_key"), have.get("signing_cert")} & ca_files:
            found.append(
                f"{PILLAR_KEY}:{name}: signs with the layline CA but is not one of the "
                "formula's policies (one per minion, every field fixed): remove it"
            )
    return found


def serialize(wanted):
    """The bytes of ``POLICY_FILE`` for ``wanted``: JSON, keys sorted (equal policies, equal
    bytes: a converged run writes nothing)."""
    import json  # pylint: disable=import-outside-toplevel

    return (json.dumps(wanted, sort_keys=True, indent=1) + "\n").encode("utf-8")


def render(wanted):
    """The pillar SLS text (YAML) of ``{x509_signing_policies: wanted}``, key order kept."""
    import yaml  # pylint: disable=import-outside-toplevel

    header = (
        "# Generated by the layline formula (layline_tls.signing_pillar on the CA minion):\n"
        "# one x509_v2 signing policy per layline minion, every field fixed. Do not edit;\n"
        "# regenerate after a change of the layline pillar (layline.validate on the CA\n"
        "# minion names every policy that is missing or differs).\n"
    )
    body = yaml.safe_dump(
        {PILLAR_KEY: wanted}, default_flow_style=False, sort_keys=False, width=1000
    )
    return header + "---\n" + body
