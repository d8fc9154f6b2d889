"""
States of the layline cluster CA (see ``_modules/layline_tls.py``).

- ``ca_certificate_present``: the CA certificate of the CA minion, fetched through
  the master's peer interface, in a local file; waits while the CA minion has not
  made its CA yet (one ``state.apply`` on bare machines runs everywhere at once).
- ``ca_published``: on the CA minion, its CA certificate in the Salt mine, where the other
  minions read it with one master request (the peer call stays the fallback).
- ``signing_policies_ready``: on the CA minion, its pillar holds the formula's signing
  policies (one per other layline minion, every field fixed; ``layline_tls.signing_problems``).
- ``private_key_managed``, ``certificate_managed``: Salt's ``x509`` states of the same name,
  called only when the in-process check of ``layline_certs`` finds something to do; else only
  the file's owner, group and mode are enforced (a converged run skips the costly RSA key
  check and the peer call for the signing policy).
"""

import time

from salt.exceptions import CommandExecutionError

import layline_certs
import layline_signing
import layline_sync

# a re-sync in this process takes effect (see layline_sync)
layline_sync.refresh(layline_certs, layline_signing)

__virtualname__ = "layline_tls"


def __virtual__():
    if "layline_tls.ca_certificate" not in __salt__:
        return (False, "the layline_tls execution module is not loaded")
    return __virtualname__


def _waitable(problem):
    """The CA minion may still be starting or making its CA (no configuration error)."""
    return any(marker in problem for marker in ("did not answer", "has no CA certificate yet"))


def _fetch(ca_server, signing_policy, timeout, interval):
    """(pem, None) once the CA minion hands out its certificate, else (None, why not)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return __salt__["layline_tls.ca_certificate"](ca_server, signing_policy), None
        except CommandExecutionError as exc:
            if not _waitable(str(exc)) or time.monotonic() + interval > deadline:
                return None, str(exc)
        time.sleep(interval)


def ca_certificate_present(
    name,
    ca_server,
    signing_policy=None,
    timeout=300,
    interval=5,
    user="root",
    group="root",
    mode="0644",
):
    """
    The CA certificate of ``ca_server`` (the one its signing policy signs with) in
    the file ``name``. While the CA minion does not answer or has no CA certificate
    yet, ask again every ``interval`` seconds for up to ``timeout`` seconds; a
    missing signing policy fails at once. The message names what is missing (the
    master's ``peer`` configuration, the CA minion's ``x509_signing_policies``).

    .. code-block:: yaml

        /etc/layline/tls/ca.crt:
          layline_tls.ca_certificate_present:
            - ca_server: ll-config-server
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    # test=True waits for nothing: the CA minion's own run would make the CA
    pem, problem = _fetch(ca_server, signing_policy, 0 if __opts__["test"] else timeout, interval)
    if pem is None:
        if __opts__["test"] and _waitable(problem):
            ret.update(
                result=None,
                comment=f"{name} would be fetched from {ca_server} once it answers: {problem}",
            )
            return ret
        ret["comment"] = problem
        return ret
    return __states__["file.managed"](
        name=name,
        contents=pem,
        user=user,
        group=group,
        mode=mode,
        makedirs=False,
        follow_symlinks=False,
    )


def ca_published(name):
    """
    The CA certificate in the file ``name`` (on the CA minion) is this minion's Salt mine
    entry ``layline_ca_certificate``, where ``layline_tls.ca_certificate`` on the other
    minions reads it. Sent (``mine.send`` of ``file.read``) only when the mine holds
    something else; the certificate is public, the comment names no content.

    .. code-block:: yaml

        /etc/layline/ca/ca.crt:
          layline_tls.ca_published
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    entry = layline_signing.CA_MINE_ENTRY
    this = __opts__["id"]
    try:
        with open(name, encoding="ascii") as stream:
            pem = stream.read()
    except OSError as exc:
        if __opts__["test"]:
            ret.update(result=None, comment=f"{name} would be published once it is made")
        else:
            ret["comment"] = f"cannot read the CA certificate {name}: {exc.strerror}"
        return ret
    try:
        mined = __salt__["mine.get"](this, entry, tgt_type="list").get(this)
    except Exception:  # pylint: disable=broad-except  # unknown: send it again
        mined = None
    if mined == pem:
        ret.update(result=True, comment=f"{name} is the mine entry {entry} of {this}")
        return ret
    if __opts__["test"]:
        ret.update(result=None, comment=f"{name} would be published as mine entry {entry}")
        return ret
    if not __salt__["mine.send"](entry, name, mine_function="file.read"):
        ret["comment"] = (
            f"mine.send of {entry} failed: the master must keep the mine "
            "(minion_data_cache, the default)"
        )
        return ret
    ret.update(
        result=True,
        changes={"mine": entry},
        comment=f"{name} published as mine entry {entry} of {this}",
    )
    return ret


def signing_policies_ready(name):
    """
    The pillar of this (CA) minion holds the signing policies of
    ``layline_tls.signing_policies`` (one per other layline minion, each fixing the
    minion, the CA key and certificate, the subject, the subjectAltName, the key usages
    and the validity), so that the other layline minions can have their certificates
    signed here and none can widen its own. Changes nothing; the comment names every
    policy key that is missing or differs.

    .. code-block:: yaml

        layline-tls-layline_tls-signing_policies_ready:
          layline_tls.signing_policies_ready:
            - name: x509_signing_policies
    """
    try:
        problems = __salt__["layline_tls.signing_problems"]()
    except CommandExecutionError as exc:
        return {"name": name, "result": False, "changes": {}, "comment": str(exc)}
    if problems:
        return {
            "name": name,
            "result": False,
            "changes": {},
            "comment": "the signing policies of this CA minion are not the formula's: "
            + "; ".join(problems),
        }
    return {
        "name": name,
        "result": True,
        "changes": {},
        "comment": "every layline minion has its own signing policy, every field fixed",
    }


def _modes_only(name, user, group, mode, what):
    """The file ``name`` is current: enforce its owner, group and mode, nothing else."""
    ret = __states__["file.managed"](
        name=name, replace=False, user=user, group=group, mode=mode, follow_symlinks=False
    )
    ret["comment"] = " ".join(
        filter(None, [f"{what} is current (checked in-process).", ret["comment"]])
    )
    return ret


def private_key_managed(name, keysize=2048, user="root", group="root", mode="0400"):
    """
    An unencrypted RSA private key of ``keysize`` bits in ``name``:
    ``x509.private_key_managed`` (``algo: rsa``) unless the file already holds one, then
    only its owner, group and mode are enforced.

    .. code-block:: yaml

        /etc/layline/tls/node.key:
          layline_tls.private_key_managed:
            - keysize: 3072
            - group: layline
            - mode: '0640'
    """
    if layline_certs.load_key(name, keysize) is not None:
        return _modes_only(name, user, group, mode, "The private key")
    return __states__["x509.private_key_managed"](
        name=name, algo="rsa", keysize=keysize, user=user, group=group, mode=mode
    )


def certificate_managed(
    name,
    days_remaining,
    private_key=None,
    signing_private_key=None,
    signing_cert=None,
    ca_cert=None,
    ca_server=None,
    signing_policy=None,
    user="root",
    group="root",
    mode="0644",
    **cert_args,
):
    """
    ``x509.certificate_managed`` with these arguments, called only when the in-process
    check (``layline_certs.certificate_changes``) finds the certificate missing, expiring
    within ``days_remaining`` days, or different from what Salt would build (subject,
    issuer, key, signature, extensions); else only its owner, group and mode are enforced.

    ca_cert
        for a certificate signed by ``ca_server``: the local copy of the CA certificate
        (``layline_tls.ca_certificate_present``) that the check verifies the signature
        with; not passed to ``x509.certificate_managed``

    A self-signed certificate (the CA's) has ``signing_private_key`` and no
    ``signing_cert``; a locally signed one both; a remotely signed one ``ca_server`` and
    ``signing_policy``.

    .. code-block:: yaml

        /etc/layline/tls/node.crt:
          layline_tls.certificate_managed:
            - private_key: /etc/layline/tls/node.key
            - ca_server: ll-config-server
            - signing_policy: layline-ll-node-1
            - ca_cert: /etc/layline/tls/ca.crt
            - CN: ll-node-1.example.com
            - days_remaining: 30
    """
    x509_args = {
        "private_key": private_key,
        "signing_private_key": signing_private_key,
        "signing_cert": signing_cert,
        "ca_server": ca_server,
        "signing_policy": signing_policy,
    }
    x509_args = {field: value for field, value in x509_args.items() if value is not None}
    self_signed = signing_cert is None and ca_server is None
    key = layline_certs.load_key(signing_private_key if self_signed else private_key)
    issuer = None if self_signed else (signing_cert or ca_cert)
    # the state system's own keyword arguments (__id__, __sls__, ...) are not certificate fields
    cert_args = {field: value for field, value in cert_args.items() if not field.startswith("__")}
    if key is not None and (self_signed or issuer):
        changes = layline_certs.certificate_changes(
            name, key, days_remaining, signing_cert=issuer, **cert_args
        )
        if not changes:
            return _modes_only(name, user, group, mode, "The certificate")
    return __states__["x509.certificate_managed"](
        name=name,
        days_remaining=days_remaining,
        user=user,
        group=group,
        mode=mode,
        **x509_args,
        **cert_args,
    )
