"""
States of the layline cluster CA (see ``_modules/layline_tls.py``).

- ``ca_certificate_present``: the CA certificate of the CA minion, fetched through
  the master's peer interface, in a local file; waits while the CA minion has not
  made its CA yet (one ``state.apply`` on bare machines runs everywhere at once).
- ``ca_published``: on the CA minion, its CA certificate in the Salt mine, where the other
  minions read it with one master request (the peer call stays the fallback).
- ``signing_policies_managed``: on the CA minion, the formula's signing policies (one per
  other layline minion, every field fixed) in a root-only file its grain serves to
  ``x509.sign_remote_certificate``; a pillar policy of the same name must be the formula's.
- ``private_key_managed``, ``certificate_managed``: Salt's ``x509`` states of the same name,
  called only when the in-process check of ``layline_certs`` finds something to do; else only
  the file's owner, group and mode are enforced (a converged run skips the costly RSA key
  check and the peer call for the signing policy).
"""

import os
import time

from salt.exceptions import CommandExecutionError

import layline_certs
import layline_files
import layline_schema
import layline_signing
import layline_sync

# a re-sync in this process takes effect (see layline_sync)
layline_sync.refresh(layline_schema, layline_certs, layline_files, layline_signing)

__virtualname__ = "layline_tls"


def __virtual__():
    if "layline_tls.ca_certificate" not in __salt__:
        return (False, "the layline_tls execution module is not loaded")
    return __virtualname__


# the CA minion may still be starting, making its CA or, in the same apply, writing the
# policy of a node just added to the pillar (no configuration error: worth waiting for)
_WAITABLE = ("did not answer", "has no CA certificate yet", "has no signing policy")


def _waitable(problem):
    return any(marker in problem for marker in _WAITABLE)


def _fetch(ca_server, signing_policy, timeout, interval, from_mine=True):
    """(pem, None) once the CA minion hands out its certificate, else (None, why not);
    ``from_mine`` False asks the CA minion, which also proves the policy is there."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            pem = __salt__["layline_tls.ca_certificate"](
                ca_server, signing_policy, from_mine=from_mine
            )
            return pem, None
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
        pem = layline_files.read_bounded(name).decode("ascii")
    except (OSError, ValueError) as exc:
        if __opts__["test"] and isinstance(exc, FileNotFoundError):
            ret.update(result=None, comment=f"{name} would be published once it is made")
        else:
            ret["comment"] = f"cannot read the CA certificate {name}: {exc}"
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


def _changed_policies(wanted, current):
    """Names of the policies that a write of ``wanted`` over ``current`` adds, changes or
    drops (for the changes: names only, never the policies)."""
    current = current if isinstance(current, dict) else {}
    return sorted(
        name for name in set(wanted) | set(current) if wanted.get(name) != current.get(name)
    )


def signing_policies_managed(name):
    """
    On the CA minion: the signing policies of ``layline_tls.signing_policies`` (one per
    other layline minion, each fixing the minion, the CA key and certificate, the subject,
    the subjectAltName, the key usages and the validity, from this run's layline pillar)
    in the root-only file ``layline_signing.POLICY_FILE``, served by the grain
    ``x509_signing_policies`` (``_grains/layline_ca.py``) to
    ``x509.sign_remote_certificate``; the grains are refreshed when the file changed. So
    a node added to the pillar gets its policy from this apply, and none can widen its
    own. Fails naming the key when the pillar holds a policy of the same name that is not
    the formula's (``x509_v2`` reads the pillar first) or a catch-all signing with the
    layline CA. The changes name the policies, never their content.

    .. code-block:: yaml

        layline-tls-layline_tls-signing_policies_managed:
          layline_tls.signing_policies_managed:
            - name: x509_signing_policies
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    path = layline_signing.POLICY_FILE
    grain = os.path.join(__opts__.get("extension_modules") or "", "grains", "layline_ca.py")
    if not os.path.isfile(grain):
        ret["comment"] = (
            f"the formula's grain module is not synced to this minion ({grain} is missing), so "
            "x509.sign_remote_certificate would find no policy: run saltutil.sync_all"
        )
        return ret
    try:
        wanted = __salt__["layline_tls.signing_policies"]()
        problems = __salt__["layline_tls.signing_problems"]()
    except CommandExecutionError as exc:
        ret["comment"] = str(exc)
        return ret
    if problems:
        ret["comment"] = "the pillar's signing policies of this CA minion are not the formula's: "
        ret["comment"] += "; ".join(problems)
        return ret
    data = layline_signing.serialize(wanted)
    try:
        current = layline_files.read_bounded(path)
    except FileNotFoundError:
        current = None
    except (OSError, ValueError):
        current = None  # a link, FIFO or oversized file: replaced, never read through
    in_grains = __grains__.get(layline_signing.PILLAR_KEY) == wanted
    if current == data and in_grains:
        ret.update(
            result=True,
            comment=f"{len(wanted)} signing policies current in {path}, served as grain "
            f"{layline_signing.PILLAR_KEY}",
        )
        return ret
    changed = _changed_policies(wanted, __grains__.get(layline_signing.PILLAR_KEY))
    if __opts__["test"]:
        ret.update(
            result=None,
            changes={"policies": changed},
            comment=f"{len(changed)} signing policies would be written to {path}",
        )
        return ret
    if current != data:
        try:
            layline_files.write_file(path, data, 0, 0, 0o600, create=(0, 0, 0o755))
        except (OSError, CommandExecutionError) as exc:
            ret["comment"] = f"cannot write the signing policies to {path}: {exc}"
            return ret
    # the minion's main process reloads its grains: the next signing job sees the policies
    __salt__["saltutil.refresh_grains"](refresh_pillar=False)
    ret.update(
        result=True,
        changes={"policies": changed},
        comment=f"{len(changed)} signing policies written to {path}, grains refreshed",
    )
    return ret


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
    wait_timeout=300,
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

    wait_timeout
        for a certificate signed by ``ca_server``: seconds to wait, before signing, while
        the CA minion does not answer or does not serve ``signing_policy`` yet (it writes a
        new node's policy in the same apply)

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
    if ca_server and not __opts__["test"]:
        # the CA minion writes a new node's policy in the same apply: wait until it serves it
        _, problem = _fetch(ca_server, signing_policy, wait_timeout, 2, from_mine=False)
        if problem:
            return {"name": name, "result": False, "changes": {}, "comment": problem}
    return __states__["x509.certificate_managed"](
        name=name,
        days_remaining=days_remaining,
        user=user,
        group=group,
        mode=mode,
        **x509_args,
        **cert_args,
    )
