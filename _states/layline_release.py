"""
State module ``layline_release``: which installed layline release a node runs.

See the execution module ``layline_release`` for the layout
(``<install_dir>/releases/<version>``, ``<install_dir>/current``).

States:

- ``layline_release.active``: ``current`` points at the release, when this run may
  move it (else it says which node moves at its rolling restart).
- ``layline_release.rollout_allowed``: fails when a new version would be a third one
  in the cluster (a previous rollout is half done).
- ``layline_release.pending_version_dropped``: a restart marker asking for another
  version than ``layline:version`` (a rollback before the node moved) loses that
  request.
"""

import json
import os

import layline_files
import layline_schema
import layline_sync

# a re-sync in this process takes effect (layline_files reads layline_schema: refresh it first)
layline_sync.refresh(layline_schema, layline_files)

__virtualname__ = "layline_release"


def __virtual__():
    if "layline_release.switch" not in __salt__:
        return (False, "the layline_release execution module is not loaded (saltutil.sync_all)")
    return __virtualname__


def _ret(name):
    return {"name": name, "changes": {}, "result": True, "comment": ""}


def active(name, version, switch=None):
    """
    Point ``<name>/current`` (``name`` is the install dir) at the installed release
    ``version``.

    switch
        True: always; False: never (only report); None (default): when
        ``layline_release.switch_now`` allows it, i.e. not under a running engine of a
        multi-node cluster (that node moves at its rolling restart, between its
        graceful stop and its start).

    .. code-block:: yaml

        layline-install-layline_release-active:
          layline_release.active:
            - name: /opt/layline
            - version: '2.5.5'
    """
    ret = _ret(name)
    version = str(version)
    previous = __salt__["layline_release.active"](name)
    if previous == version:
        ret["comment"] = f"release {version} is active"
        return ret
    if switch is None:
        switch = __salt__["layline_release.switch_now"](name)
    if not switch:
        ret["comment"] = (
            f"release {version} is installed beside the running {previous}; this node "
            "moves to it at its rolling restart (salt-run state.orch layline.rolling)"
        )
        return ret
    ret["changes"] = {"current": {"old": previous, "new": version}}
    if __opts__.get("test"):
        ret["result"] = None
        ret["comment"] = f"release {version} would become active (was {previous})"
        return ret
    try:
        __salt__["layline_release.switch"](version, install_dir=name, restart_config_server=False)
    except Exception as exc:  # noqa: BLE001 - CommandExecutionError with the advice
        ret.update(result=False, changes={}, comment=str(exc))
        return ret
    ret["comment"] = f"release {version} is active (was {previous})"
    return ret


def rollout_allowed(name, version, timeout=5):
    """
    Fail when moving the cluster to ``version`` would run three versions at once
    (a previous rollout is half done); the comment names the nodes per version.
    Same result under ``test=True``. Use ``failhard: True``.

    .. code-block:: yaml

        layline-install-layline_release-rollout_allowed:
          layline_release.rollout_allowed:
            - name: layline cluster
            - version: '2.5.6'
            - failhard: True
    """
    ret = _ret(name)
    problems = __salt__["layline_release.rollout_problems"](str(version), timeout=timeout)
    if problems:
        ret["result"] = False
        ret["comment"] = "\n".join(problems)
    else:
        ret["comment"] = f"a rollout to {version} keeps at most two versions in the cluster"
    return ret


def pending_version_dropped(name, version):
    """
    The restart marker ``name`` (JSON ``{"reasons": [...], "version": ...}``) no
    longer asks for a version other than ``version``: its version reasons are
    dropped, and the marker is removed when nothing else is pending. Used when
    ``layline:version`` goes back to the release a node still runs (a rollback
    before that node moved).

    .. code-block:: yaml

        layline-service-layline_release-pending_version_dropped:
          layline_release.pending_version_dropped:
            - name: /var/lib/layline-formula/pending/layline-reactive-engine.json
            - version: '2.5.4'
    """
    ret = _ret(name)
    try:
        marker = json.loads(layline_files.read_bounded(name))
    except FileNotFoundError:
        ret["comment"] = "no restart marker"
        return ret
    except (OSError, ValueError) as exc:
        ret.update(result=False, comment=f"cannot read restart marker {name}: {exc}")
        return ret
    wanted = marker.get("version")
    if wanted in (None, str(version)):
        ret["comment"] = "the restart marker asks for no other version"
        return ret
    reasons = [r for r in marker.get("reasons") or [] if not str(r).startswith("version ")]
    ret["changes"] = {"version": {"old": wanted, "new": None}, "reasons": reasons}
    if __opts__.get("test"):
        ret["result"] = None
        ret["comment"] = f"the restart marker's version {wanted} would be dropped"
        return ret
    if reasons:
        marker.update(reasons=reasons, version=None)
        layline_files.write_marker(name, marker)
    else:
        os.unlink(name)
    ret["comment"] = f"the restart marker no longer asks for version {wanted}"
    return ret
