"""
State module ``layline``: the states the layline formula needs beyond Salt core.

The states read the configuration model on the minion (``layline_model.load``
in ``_utils``: ``layline/map.jinja`` over the pillar, cached in ``__context__``,
the same code the execution modules use), so no SLS passes the model - or the
database password in it - as a state argument. ``config`` remains an optional
argument for tests only. Validation and the real ``application.conf`` text come
from ``layline_render`` (``_utils``), roles and address checks from
``layline_model`` and ``layline_address``.

Root never writes through a path the service user controls: files are written
by ``layline_files`` (``_utils``), which opens every directory component with
``O_NOFOLLOW`` relative to its parent, creates the file under a temporary name
with its final owner and mode (never world-readable) and renames it into place
within the same directory.

States:

- ``layline.validated``: fails (use ``failhard: True``) when the model is invalid.
- ``layline.config_managed``: ``application.conf`` of one role.
- ``layline.cluster_definition_managed`` / ``cluster_definition_absent``: the
  configuration server's cluster definition (``clusters/<Name>.json``).
- ``layline.restart_pending``: marker file for the rolling restart orchestration.
"""

import datetime
import grp
import json
import logging
import os
import pwd
import stat
import uuid

import layline_render
from salt.exceptions import CommandExecutionError

import layline_address
import layline_checks
import layline_files
import layline_hocon
import layline_hostfacts
import layline_metrics
import layline_model
import layline_schema
import layline_sync
import layline_validate
import layline_validate_db

# a re-sync in this process takes effect (see layline_sync): every util layline_render imports
layline_sync.refresh(
    layline_schema,
    layline_files,
    layline_model,
    layline_address,
    layline_checks,
    layline_metrics,
    layline_hocon,
    layline_hostfacts,
    layline_validate_db,
    layline_validate,
    layline_render,
)
# the utils this module was written for: an older synced copy counts as not synced
UTILS_API = 6

__virtualname__ = "layline"

log = logging.getLogger(__name__)

# Namespace of the deterministic uuids of cluster definition bootstrap nodes.
BOOTSTRAP_NODE_NAMESPACE = uuid.uuid5(
    uuid.NAMESPACE_URL, "https://layline.io/formula/bootstrap-node"
)

HIDDEN = "<hidden: contains secrets>"


def __virtual__():
    problem = layline_sync.out_of_date(layline_schema, UTILS_API)
    if problem:
        return False, problem
    # the SLS files that use these states render through the execution module layline:
    # without it (not synced, or its _utils out of date) they cannot render at all
    if "layline.validate" not in __salt__:
        return (
            False,
            "the layline execution module is not loaded (not synced, or its _utils are out "
            "of date): run salt '*' saltutil.sync_all",
        )
    return __virtualname__


# --------------------------------------------------------------------------- helpers


def _ret(name):
    return {"name": name, "changes": {}, "result": True, "comment": ""}


def _model(config):
    """``config`` when given (tests), else the one model of this run (see layline_model.load)."""
    if config is not None:
        return config
    return layline_model.load(__salt__["slsutil.renderer"], __context__, __pillar__)


_redact = layline_model.redact


def _ids(user, group):
    """(uid, gid) of user/group names (root when None)."""
    uid = pwd.getpwnam(user).pw_uid if user else 0
    gid = grp.getgrnam(group).gr_gid if group else 0
    return uid, gid


def _file_state(name, data, user, group, mode, create_dirs=None, secret=False):
    """
    Converge file ``name`` to ``data`` (bytes) owned by user:group with ``mode``
    (an int), safely (see the module docstring); honours ``test=True``. Returns a
    state return; with ``secret`` the changes never show content.
    """
    ret = _ret(name)
    directory, base = os.path.split(name)
    try:
        uid, gid = _ids(user, group)
    except KeyError as exc:
        if __opts__.get("test"):
            ret.update(
                result=None,
                comment=f"{name} would be written once {exc} exists",
                changes={"written": name},
            )
            return ret
        ret.update(result=False, comment=f"cannot write {name}: no such user or group {exc}")
        return ret
    try:
        dir_fd = layline_files.open_dir(
            directory, create=None if __opts__.get("test") else create_dirs
        )
    except CommandExecutionError as exc:
        if __opts__.get("test") and create_dirs and "does not exist" in str(exc):
            ret.update(result=None, comment=f"{name} would be written", changes={"written": name})
            return ret
        ret.update(result=False, comment=f"cannot write {name}: {exc}")
        return ret
    try:
        current = layline_files.read_current(dir_fd, base)
        changes = {}
        if current is None or current[0] != data:
            changes["content"] = HIDDEN if secret else "written"
        if current is None or current[1:3] != (uid, gid):
            changes["owner"] = f"{user or 'root'}:{group or 'root'}"
        if current is None or current[3] != mode:
            changes["mode"] = f"{mode:04o}"
        if not changes:
            ret["comment"] = f"{name} is in the correct state"
            return ret
        ret["changes"] = changes
        if __opts__.get("test"):
            ret.update(result=None, comment=f"{name} would be written")
            return ret
        layline_files.write_at(dir_fd, base, data, uid, gid, mode)
        ret["comment"] = f"{name} written"
    except OSError as exc:
        ret.update(result=False, changes={}, comment=f"cannot write {name}: {exc}")
    finally:
        os.close(dir_fd)
    return ret


def _engine_rest_urls(config):
    """REST URLs of every engine in seed order (``http://<hostname>:<rest port>``)."""
    port = (config.get("ports") or {}).get("rest", 5842)
    nodes = (config.get("cluster") or {}).get("nodes") or []
    if not nodes:
        # Empty topology: the configuration server host runs the only engine,
        # seeded by itself on 127.0.0.1 (see docs/design.md, pillar model).
        return [f"http://127.0.0.1:{port}"]
    urls = []
    for node in nodes:
        host = str(node["hostname"])
        urls.append(f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}")
    return urls


def _cluster_definition(config):
    """
    The configuration server's cluster definition for ``config`` as a dict.

    The bootstrap node uuids are uuid5 of the cluster name and the URL, so the
    definition (and the file) is identical on every run.
    """
    name = str((config.get("cluster") or {}).get("name") or "Production")
    return {
        "@type": "deploy/cluster",
        "name": name,
        "bootstrapNodes": [
            {
                "modifier": "add",
                "uuid": str(uuid.uuid5(BOOTSTRAP_NODE_NAMESPACE, f"{name}\n{url}")),
                "data": url,
            }
            for url in _engine_rest_urls(config)
        ],
    }


# --------------------------------------------------------------------------- states


def validated(name, installing=True, config=None):
    """
    Validate the layline configuration model; change nothing.

    Fails with every error in the comment (warnings are listed too but do not
    fail). Put ``failhard: True`` on it and ``require: - sls: layline.validate``
    on everything else, so an invalid pillar changes nothing on the minion. The
    result is the same with ``test=True``.

    name
        A label.

    installing
        ``False`` for the clean SLS files: the installer settings
        (``distribution:source``, ``source_hash``) are then not required.

    config
        The model, for tests only; by default it is read on the minion.

    .. code-block:: yaml

        layline-validate-layline-validated:
          layline.validated:
            - name: layline configuration
            - failhard: True
    """
    ret = _ret(name)
    model = {}
    try:
        model = _model(config)
        minion_id = __opts__["id"]
        errors, warnings = layline_render.validate(
            model, minion_id, installing, host=layline_hostfacts.HostFacts()
        )
        if not errors and installing and layline_model.roles(model, minion_id):
            # canonical addresses resolve here, not loopback on a multi-machine cluster
            errors = layline_address.address_errors(model, minion_id)
        if not errors and installing and "layline_tls.signing_problems" in __salt__:
            # on the CA minion: one signing policy per minion, every field fixed
            errors = __salt__["layline_tls.signing_problems"](config=config)
    except Exception as exc:  # noqa: BLE001 - report any crash as a failed validation
        ret["result"] = False
        # scrub with the model read on the minion (``config`` is None outside tests)
        ret["comment"] = _redact(f"layline.validate failed: {type(exc).__name__}: {exc}", model)
        return ret
    lines = []
    if errors:
        ret["result"] = False
        lines.append(f"layline configuration is invalid ({len(errors)} error(s)):")
        lines.extend(f"  - {error}" for error in errors)
    else:
        lines.append("layline configuration is valid")
    if warnings:
        lines.append(f"warnings ({len(warnings)}):")
        lines.extend(f"  - {warning}" for warning in warnings)
    ret["comment"] = _redact("\n".join(lines), model)
    if warnings:
        ret["warnings"] = _redact(warnings, model)
    return ret


def config_managed(name, role, group, user="root", mode="0640", config=None):
    """
    Manage the ``application.conf`` of one role.

    The text is rendered on the minion by ``layline_render.render_text`` (``_utils``;
    it contains the database password) and written without following
    links, created with its final owner and mode: it is never world-readable, not
    even for a moment, and its content is never shown (changes say
    ``<hidden: contains secrets>``). Missing directories are created
    ``user:group 0750``.

    name
        Path of the file, e.g. ``/etc/layline/reactive-engine/application.conf``.

    role
        ``reactive-engine`` or ``config-server``.

    group
        The service group (reads the file).

    user
        Owner (default root).

    mode
        Default ``0640``.

    config
        The model, for tests only.

    .. code-block:: yaml

        layline-config-layline-config_managed-engine:
          layline.config_managed:
            - name: /etc/layline/reactive-engine/application.conf
            - role: reactive-engine
            - group: layline
    """
    ret = _ret(name)
    model = {}
    try:
        model = _model(config)
        text = layline_render.render_text(role, model, __opts__["id"])
    except Exception as exc:  # noqa: BLE001
        ret["result"] = False
        ret["comment"] = _redact(
            f"cannot render the {role} configuration: {type(exc).__name__}: {exc}", model
        )
        return ret
    try:
        create = (*_ids(user, group), 0o750)
    except KeyError:
        create = None
    result = _file_state(
        name, text.encode("utf-8"), user, group, int(str(mode), 8), create_dirs=create, secret=True
    )
    return _redact(result, model)


def cluster_definition_managed(name, user, group, mode="0640", config=None):
    """
    Manage the configuration server's cluster definition file.

    ``name`` is ``<home>/.layline/config-server/clusters/<cluster name>.json``; the
    bootstrap nodes are the REST URLs of every engine (``cluster:nodes`` in seed
    order, or ``127.0.0.1`` for the single-host default) with deterministic uuids,
    so an unchanged pillar never changes the file. The directory belongs to the
    service user: it is walked without following links, missing directories are
    created ``user:group 0750`` and the file is replaced by rename.

    name
        Path of the file.

    user, group
        Owner of the file and of directories created for it.

    mode
        Default ``0640``.

    config
        The model, for tests only.

    .. code-block:: yaml

        layline-cluster-layline-cluster_definition_managed:
          layline.cluster_definition_managed:
            - name: /var/lib/layline/.layline/config-server/clusters/Production.json
            - user: layline
            - group: layline
    """
    try:
        definition = _cluster_definition(_model(config))
    except (KeyError, TypeError, AttributeError, CommandExecutionError) as exc:
        ret = _ret(name)
        ret["result"] = False
        ret["comment"] = f"cannot build the cluster definition: {type(exc).__name__}: {exc}"
        return ret
    data = (json.dumps(definition, indent=2) + "\n").encode("utf-8")
    try:
        uid, gid = _ids(user, group)
    except KeyError:
        uid = gid = None
    create = (uid, gid, 0o750) if uid is not None else None
    result = _file_state(name, data, user, group, int(str(mode), 8), create_dirs=create)
    if result["changes"].get("content"):
        result["changes"]["content"] = definition
    return result


def cluster_definition_absent(name):
    """
    Remove the cluster definition file ``name`` without following links (its
    directory belongs to the service user). A missing file or directory is fine.

    .. code-block:: yaml

        layline-cluster-clean-layline-cluster_definition_absent:
          layline.cluster_definition_absent:
            - name: /var/lib/layline/.layline/config-server/clusters/Production.json
    """
    ret = _ret(name)
    directory, base = os.path.split(name)
    try:
        dir_fd = layline_files.open_dir(directory)
    except CommandExecutionError as exc:
        if "does not exist" in str(exc):
            ret["comment"] = f"{name} is absent"
            return ret
        ret.update(result=False, comment=f"cannot remove {name}: {exc}")
        return ret
    try:
        try:
            info = os.stat(base, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            ret["comment"] = f"{name} is absent"
            return ret
        if stat.S_ISDIR(info.st_mode):
            ret.update(result=False, comment=f"{name} is a directory: remove it by hand")
            return ret
        ret["changes"] = {"removed": name}
        if __opts__.get("test"):
            ret.update(result=None, comment=f"{name} would be removed")
            return ret
        os.unlink(base, dir_fd=dir_fd)
        ret["comment"] = f"{name} removed"
    except OSError as exc:
        ret.update(result=False, changes={}, comment=f"cannot remove {name}: {exc}")
    finally:
        os.close(dir_fd)
    return ret


def restart_pending(
    name, reason="configuration changed", version=None, directory=layline_schema.PENDING_DIR
):
    """
    Mark a clustered service's restart as pending instead of restarting it.

    Use it with ``onchanges`` on the engine's configuration, unit and
    installation: on a multi-node cluster the formula never restarts engines
    itself; ``salt-run state.orch layline.rolling`` restarts every node with a
    marker and removes the marker only after the node passed its health gate
    (so a re-run after a failure continues with what is still pending).

    The marker is ``<directory>/<name>.json`` (root-owned, default directory
    ``/var/lib/layline-formula/pending``), JSON ``{"reasons": [...], "version":
    <target version or null>, "written": "<UTC ISO time>"}``; a second change
    before the restart adds its reason. ``version``: the release the node
    switches to at its restart (``layline_release.switch``).

    .. code-block:: yaml

        layline-service-layline-restart_pending:
          layline.restart_pending:
            - name: layline-reactive-engine
            - reason: reactive engine configuration changed
            - onchanges:
              - sls: layline.config.engine
    """
    ret = _ret(name)
    if not isinstance(name, str) or "/" in name or not name:
        ret["result"] = False
        ret["comment"] = f"name must be a unit name such as layline-reactive-engine, not {name!r}"
        return ret
    path = os.path.join(directory, f"{name}.json")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if __opts__.get("test"):
        ret["result"] = None
        ret["comment"] = f"restart marker {path} would be written: {reason}"
        ret["changes"] = {"restart_pending": reason}
        return ret
    previous = layline_files.read_marker(path) or {}
    reasons = [str(r) for r in previous.get("reasons") or [] if isinstance(r, str)]
    if reason not in reasons:
        reasons.append(reason)
    marker = {
        "reasons": reasons,
        "version": version if version is not None else previous.get("version"),
        "written": stamp,
    }
    try:
        layline_files.write_marker(path, marker)
    except OSError as exc:
        ret["result"] = False
        ret["comment"] = f"cannot write restart marker {path}: {exc}"
        return ret
    ret["comment"] = f"restart pending: {reason}"
    ret["changes"] = {"restart_pending": reason, "since": stamp}
    if version is not None:
        ret["changes"]["version"] = version
    return ret
