"""
States of the layline cluster CA (see ``_modules/layline_tls.py``).

- ``ca_certificate_present``: the CA certificate of the CA minion, fetched through
  the master's peer interface, in a local file; waits while the CA minion has not
  made its CA yet (one ``state.apply`` on bare machines runs everywhere at once).
- ``signing_policies_ready``: on the CA minion, its pillar holds the formula's signing
  policies (one per other layline minion, every field fixed; ``layline_tls.signing_problems``).
"""

import time

from salt.exceptions import CommandExecutionError

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
