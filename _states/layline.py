"""
State module ``layline``: the states the layline formula needs beyond Salt core.

The configuration model (``config``) is the formula's ``mapdata`` (see
``layline/map.jinja`` and ``pillar.example``); every state takes it explicitly so
that an SLS, the execution module ``layline`` and the tests all see one model.

Secrets: the rendered ``application.conf`` files contain the database password.
They are built inside the minion by ``layline.render`` and written with
``show_changes=False``, so neither the SLS data nor diffs nor state returns carry
the rendered text, and every comment this module returns is scrubbed of the
password. (The ``config`` argument itself contains the password, exactly like the
pillar it comes from: ``state.show_sls`` / ``state.show_lowstate`` show it to
whoever may read the pillar anyway.)

States:

- ``layline.validated``: fails (use ``failhard: True``) when the model is invalid.
- ``layline.config_managed``: ``application.conf`` of one role.
- ``layline.cluster_definition_managed``: the configuration server's cluster
  definition (``clusters/<Name>.json``).
- ``layline.restart_pending``: marker file for the rolling restart orchestration.
"""

import datetime
import json
import logging
import os
import uuid

__virtualname__ = "layline"

log = logging.getLogger(__name__)

# Namespace of the deterministic uuids of cluster definition bootstrap nodes.
BOOTSTRAP_NODE_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://layline.io/formula/bootstrap-node")

INSTALLING_ROLES = ("config-server", "engine")


def __virtual__():
    return __virtualname__


# --------------------------------------------------------------------------- helpers


def _ret(name):
    return {"name": name, "changes": {}, "result": True, "comment": ""}


def _secrets(config):
    """Every secret value of the model (scrubbed from comments)."""
    secrets = []
    database = (config or {}).get("database") or {}
    password = database.get("password")
    if password not in (None, ""):
        secrets.append(str(password))
    return secrets


def _scrub(value, config):
    """Replace secret values in strings (recursively in dicts and lists) by ``***``."""
    secrets = _secrets(config)
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):
            value = value.replace(secret, "***")
        return value
    if isinstance(value, dict):
        return {key: _scrub(item, config) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(item, config) for item in value]
    return value


def _formula_errors(config):
    """Checks of the keys only the formula uses (the rest is ``layline.validate``'s job)."""
    errors = []
    distribution = config.get("distribution")
    if not isinstance(distribution, dict):
        return ["layline:distribution must be a mapping"]
    try:
        roles = __salt__["layline.roles"](config=config)
    except Exception:  # noqa: BLE001 - reported by layline.validate already
        roles = list(INSTALLING_ROLES)
    if any(role in roles for role in INSTALLING_ROLES):
        if not distribution.get("source"):
            errors.append("layline:distribution:source is required (URL of the installer)")
        if not distribution.get("source_hash"):
            errors.append(
                "layline:distribution:source_hash is required: the sha256 of "
                "{} (or the URL of a file holding it); Salt never installs an "
                "unverified download".format(distribution.get("source") or "the installer")
            )
    args = distribution.get("installer_args")
    if args is not None and (
        not isinstance(args, list) or not all(isinstance(arg, (str, int)) for arg in args)
    ):
        errors.append("layline:distribution:installer_args must be a list of strings")
    if not str(config.get("version") or "").strip():
        errors.append("layline:version is required")
    return errors


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


def cluster_definition(config):
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


def validated(name, config):
    """
    Validate the layline configuration model; change nothing.

    Fails with every error in the comment (warnings are listed too but do not
    fail). Put ``failhard: True`` on it and ``require: - sls: layline.validate``
    on everything else, so an invalid pillar changes nothing on the minion. The
    result is the same with ``test=True``.

    .. code-block:: yaml

        layline-validate-layline-validated:
          layline.validated:
            - name: layline pillar
            - config: {{ mapdata | json }}
            - failhard: True
    """
    ret = _ret(name)
    if not isinstance(config, dict):
        ret["result"] = False
        ret["comment"] = "layline configuration must be a mapping (pillar `layline`)"
        return ret
    try:
        report = __salt__["layline.validate"](config=config) or {}
    except Exception as exc:  # noqa: BLE001 - report any crash as a failed validation
        ret["result"] = False
        ret["comment"] = _scrub(f"layline.validate failed: {type(exc).__name__}: {exc}", config)
        return ret
    errors = list(report.get("errors") or []) + _formula_errors(config)
    warnings = list(report.get("warnings") or [])
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
    ret["comment"] = _scrub("\n".join(lines), config)
    if warnings:
        ret["warnings"] = _scrub(warnings, config)
    return ret


def config_managed(name, role, config, user="root", group=None, mode="0640"):
    """
    Manage the ``application.conf`` of one role, rendered by ``layline.render``.

    The text is rendered on the minion and handed to ``file.managed`` with
    ``show_changes=False``: the password it contains is in no SLS data, diff or
    return. ``role`` is ``reactive-engine`` or ``config-server``. The file is
    owned by ``user`` (root) and readable by the service ``group`` only.

    .. code-block:: yaml

        layline-config-layline-config_managed-engine:
          layline.config_managed:
            - name: /var/lib/layline/.layline/reactive-engine/config/application.conf
            - role: reactive-engine
            - config: {{ mapdata | json }}
            - group: layline
    """
    ret = _ret(name)
    try:
        contents = __salt__["layline.render"](role, config=config)
    except Exception as exc:  # noqa: BLE001
        ret["result"] = False
        ret["comment"] = _scrub(
            f"cannot render the {role} configuration: {type(exc).__name__}: {exc}", config
        )
        return ret
    result = __states__["file.managed"](
        name=name,
        contents=contents,
        user=user,
        group=group,
        mode=mode,
        makedirs=True,
        show_changes=False,
    )
    result = _scrub(result, config)
    changes = result.get("changes") or {}
    if "diff" in changes:
        changes["diff"] = "<hidden: contains secrets>"
    return result


def cluster_definition_managed(name, config, user=None, group=None, mode="0640"):
    """
    Manage the configuration server's cluster definition file.

    ``name`` is ``<home>/.layline/config-server/clusters/<cluster name>.json``; the
    bootstrap nodes are the REST URLs of every engine (``cluster:nodes`` in seed
    order, or ``127.0.0.1`` for the single-host default) with deterministic uuids,
    so an unchanged pillar never changes the file.

    .. code-block:: yaml

        layline-cluster-layline-cluster_definition_managed:
          layline.cluster_definition_managed:
            - name: /var/lib/layline/.layline/config-server/clusters/Production.json
            - config: {{ mapdata | json }}
            - user: layline
            - group: layline
    """
    try:
        definition = cluster_definition(config)
    except (KeyError, TypeError, AttributeError) as exc:
        ret = _ret(name)
        ret["result"] = False
        ret["comment"] = f"cannot build the cluster definition: {type(exc).__name__}: {exc}"
        return ret
    contents = json.dumps(definition, indent=2) + "\n"
    return __states__["file.managed"](
        name=name,
        contents=contents,
        user=user,
        group=group,
        mode=mode,
        makedirs=True,
    )


PENDING_DIR = "/var/lib/layline-formula/pending"


def _read_marker(path):
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_root_file(path, text):
    """Write ``path`` as root:root 0644 through a new file and a rename (no symlink followed)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    handle = os.open(tmp, flags, 0o644)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.rename(tmp, path)
    except OSError:
        if os.path.lexists(tmp):
            os.remove(tmp)
        raise


def restart_pending(name, reason="configuration changed", version=None, directory=PENDING_DIR):
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
    switches to at its restart (``layline.switch_release``).

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
    previous = _read_marker(path) or {}
    reasons = [str(r) for r in previous.get("reasons") or [] if isinstance(r, str)]
    if reason not in reasons:
        reasons.append(reason)
    marker = {"reasons": reasons,
              "version": version if version is not None else previous.get("version"),
              "written": stamp}
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        _write_root_file(path, json.dumps(marker, indent=2) + "\n")
    except OSError as exc:
        ret["result"] = False
        ret["comment"] = f"cannot write restart marker {path}: {exc}"
        return ret
    ret["comment"] = f"restart pending: {reason}"
    ret["changes"] = {"restart_pending": reason, "since": stamp}
    if version is not None:
        ret["changes"]["version"] = version
    return ret
