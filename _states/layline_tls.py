"""
States of the layline cluster CA (see ``_modules/layline_tls.py``).

- ``ca_certificate_present``: the CA certificate of the CA minion, fetched through
  the master's peer interface, in a local file; waits while the CA minion has not
  made its CA yet (one ``state.apply`` on bare machines runs everywhere at once).
- ``signing_policy_ready``: on the CA minion, its pillar's signing policy points
  at the formula's CA.
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
    signing_policy="layline",
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


def signing_policy_ready(name, signing_private_key, signing_cert):
    """
    The pillar of this (CA) minion defines ``x509_signing_policies:<name>`` with the
    formula's CA key and certificate, so that the other layline minions can have their
    certificates signed here. Changes nothing.

    .. code-block:: yaml

        layline:
          layline_tls.signing_policy_ready:
            - signing_private_key: /etc/layline/ca/ca.key
            - signing_cert: /etc/layline/tls/ca.crt
    """
    problem = __salt__["layline_tls.signing_policy_problem"](
        name, signing_private_key, signing_cert
    )
    if problem:
        return {"name": name, "result": False, "changes": {}, "comment": problem}
    return {
        "name": name,
        "result": True,
        "changes": {},
        "comment": f"signing policy {name} signs with {signing_cert}",
    }
