"""
Execution module ``layline_release``: the side-by-side release layout of layline.

Every version is installed into its own directory and a node runs the release that
``<install_dir>/current`` points to::

    <install_dir>/releases/2.5.4/    # VERSION, bin/, lib/, config/config-server/...
    <install_dir>/releases/2.5.5/
    <install_dir>/current -> releases/2.5.5

The units start ``<install_dir>/current/bin/...``, so a running process keeps the
release it started from and a new version is installed without touching it. On a
multi-node cluster ``current`` of an engine node is moved only between the graceful
stop and the start of the rolling restart (``layline_release.switch``); a single
host, a machine without a running engine and the configuration server alone switch
at once. At most two versions run in a cluster at a time (``rollout_problems``).

Functions: ``paths``, ``active``, ``installed``, ``switch``, ``switch_now``,
``node_versions``, ``rollout_problems``, ``installer_args``, ``pending_version``.
"""

import logging
import os
import re

from salt.exceptions import CommandExecutionError

import layline_files
import layline_model
import layline_schema
import layline_sync

# a re-sync in this process takes effect (see layline_sync); bind names after it
layline_sync.refresh(layline_schema, layline_files, layline_model)
# the utils this module was written for: an older synced copy counts as not synced
UTILS_API = 6

log = logging.getLogger(__name__)

__virtualname__ = "layline_release"

RELEASES = "releases"
CURRENT = "current"
DIR_PLACEHOLDER = "{dir}"
_VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]*$")


def __virtual__():
    problem = layline_sync.out_of_date(layline_schema, UTILS_API)
    if problem:
        return False, problem
    return __virtualname__


# --------------------------------------------------------------------------- pure helpers


def release_dir(install_dir, version):
    """``<install_dir>/releases/<version>`` (the version must be a plain version string)."""
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise CommandExecutionError(
            f"{version!r} is not a version string like 2.5.4 (layline:version)"
        )
    return os.path.join(str(install_dir), RELEASES, version)


def expand_installer_args(args, directory):
    """The installer arguments with ``{dir}`` replaced by the release directory."""
    return [str(arg).replace(DIR_PLACEHOLDER, directory) for arg in args]


def decide_switch(multi_node, roles, active_version, engine_running):
    """
    Whether ``current`` may move to the target release during ``state.apply``.

    Always when nothing is active yet or no engine of a multi-node cluster runs from
    it; never under a running engine of a multi-node cluster (the rolling restart
    moves it, one node at a time).
    """
    if active_version is None:
        return True
    if "engine" not in roles or not multi_node:
        return True
    return not engine_running


def rollout_conflicts(target, versions):
    """
    Problems of starting a rollout to ``target`` while nodes run ``versions``
    (``{node: version or None}``): at most two versions in the cluster at once.

    Returns a list of messages (empty when the rollout may go on). Nodes that do not
    answer (None) do not count.
    """
    running = {}
    for node, version in sorted(versions.items()):
        if version:
            running.setdefault(version, []).append(node)
    if target in running or len(running) < 2:
        return []
    listing = "; ".join(
        f"{version} on {', '.join(nodes)}" for version, nodes in sorted(running.items())
    )
    return [
        f"layline:version: {target} would be a third version in the cluster ({listing}): "
        "a previous rollout is half done. Finish it first (salt-run state.orch "
        "layline.rolling), or roll back to one of the running versions"
    ]


def _read_version(directory):
    try:
        with open(os.path.join(directory, "VERSION"), encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


# --------------------------------------------------------------------------- minion side


def _config(config=None):
    """``config`` when given (tests), else the model read on this minion (``layline_model.load``:
    real values; ``layline.mapdata`` masks whatever looks like a secret, URLs included)."""
    if config is None:
        config = layline_model.load(__salt__["slsutil.renderer"], __context__, __pillar__)
    return config


def _install_dir(install_dir):
    if install_dir is not None:
        return install_dir
    return _config()["install_dir"]


def paths(install_dir=None, version=None):
    """
    Return the layout: ``{install_dir, releases, current, release}`` (``release`` is
    the directory of ``version``, default ``layline:version``).

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline_release.paths version=2.5.5
    """
    if install_dir is None or version is None:
        config = _config()
        install_dir = install_dir or config["install_dir"]
        version = version or str(config["version"])
    return {
        "install_dir": install_dir,
        "releases": os.path.join(install_dir, RELEASES),
        "current": os.path.join(install_dir, CURRENT),
        "release": release_dir(install_dir, version),
    }


def active(install_dir=None):
    """
    Return the version ``<install_dir>/current`` points to (its ``VERSION``), or
    None when no release is active yet.

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline_release.active
    """
    current = os.path.join(_install_dir(install_dir), CURRENT)
    if not os.path.islink(current) and not os.path.isdir(current):
        return None
    return _read_version(current)


def installed(install_dir=None):
    """
    Return the versions installed under ``<install_dir>/releases`` (a directory
    whose ``VERSION`` matches its name), sorted by name.

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline_release.installed
    """
    releases = os.path.join(_install_dir(install_dir), RELEASES)
    try:
        names = sorted(os.listdir(releases))
    except OSError:
        return []
    return [name for name in names if _read_version(os.path.join(releases, name)) == name]


def switch_now(install_dir=None, config=None):
    """
    Return True when this ``state.apply`` may point ``current`` at ``layline:version``
    (see ``decide_switch``): False only under a running engine of a multi-node
    cluster, which moves at its rolling restart. ``config``: the model, for tests only.

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline_release.switch_now
    """
    current = active(install_dir)
    config = _config(config)
    roles = layline_model.roles(config, __opts__["id"])
    multi_node = __salt__["layline.is_multi_node"](config=config)
    if decide_switch(multi_node, roles, current, engine_running=True):
        return True
    # only here does it matter whether the engine runs
    running = bool(__salt__["service.status"](layline_schema.ENGINE_UNIT))
    return decide_switch(multi_node, roles, current, running)


def switch(version, install_dir=None, restart_config_server=True):
    """
    Point ``<install_dir>/current`` at the installed release ``version`` (atomically:
    a new symlink renamed over the old one). Idempotent. Refuses, changing nothing,
    when ``<install_dir>/releases/<version>/VERSION`` is not ``version``.

    The rolling restart calls it between the engine's
    graceful stop and its start. A configuration server on the same machine is no
    cluster member: it is restarted right away to follow (``restart_config_server``).

    Returns ``{'previous', 'active', 'changed'}``.

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline_release.switch 2.5.5
    """
    install_dir = _install_dir(install_dir)
    version = str(version)
    target = release_dir(install_dir, version)
    found = _read_version(target)
    if found != version:
        have = installed(install_dir)
        raise CommandExecutionError(
            f"release {version} is not installed on this node ({target}/VERSION is "
            f"{found!r}; installed: {', '.join(have) or 'none'}): set layline:version to "
            f"{version} and run state.apply layline first"
        )
    current = os.path.join(install_dir, CURRENT)
    previous = active(install_dir)
    relative = os.path.join(RELEASES, version)
    if os.path.islink(current) and os.readlink(current) == relative:
        return {"previous": previous, "active": version, "changed": False}
    if os.path.exists(current) and not os.path.islink(current):
        raise CommandExecutionError(
            f"{current} is not a symlink: move it away (an install of the old flat layout?) "
            "and run state.apply layline"
        )
    tmp = f"{current}.tmp-{os.getpid()}"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(relative, tmp)
    # the link belongs to whoever owns the install dir (root:<group>), as the recursive
    # ownership of layline.install would make it: the next run then changes nothing
    owner = os.stat(install_dir)
    os.lchown(tmp, owner.st_uid, owner.st_gid)
    os.replace(tmp, current)
    log.info("layline release %s -> %s (%s)", previous, version, current)
    if restart_config_server and __salt__["service.status"](layline_schema.CONFIG_SERVER_UNIT):
        __salt__["service.restart"](layline_schema.CONFIG_SERVER_UNIT)
    return {"previous": previous, "active": version, "changed": True}


def node_versions(config=None, timeout=5):
    """
    Return ``{node: version}`` of every configured engine, as each one reports it on
    its REST ``/engine/status`` (None when it does not answer).

    CLI Example:

    .. code-block:: bash

        salt ll-config-server layline_release.node_versions
    """
    rows = __salt__["layline.status"](config=config, timeout=timeout)
    return {row["node"] or row["hostname"]: row.get("version") for row in rows}


def rollout_problems(version=None, config=None, timeout=5):
    """
    Return the reasons (a list, empty when fine) why a rollout to ``version``
    (default ``layline:version``) must not start now: it would make a third version
    in the cluster while a previous rollout is half done.

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline_release.rollout_problems 2.5.6
    """
    if version is None:
        version = str(_config()["version"])
    return rollout_conflicts(str(version), node_versions(config=config, timeout=timeout))


def installer_args(install_dir=None, version=None):
    """
    Return ``layline:distribution:installer_args`` with ``{dir}`` replaced by the
    release directory ``<install_dir>/releases/<version>``.

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline_release.installer_args
    """
    config = _config()
    where = paths(install_dir or config["install_dir"], version or str(config["version"]))
    return expand_installer_args(config["distribution"]["installer_args"], where["release"])


def pending_version(unit="layline-reactive-engine", directory=None):
    """
    Return the version the restart marker of ``unit`` asks for
    (``<directory>/<unit>.json``, key ``version``), or None.

    CLI Example:

    .. code-block:: bash

        salt ll-node-2 layline_release.pending_version
    """
    directory = directory or layline_schema.PENDING_DIR
    marker = layline_files.read_marker(os.path.join(directory, f"{unit}.json"))
    return marker.get("version") if marker else None
