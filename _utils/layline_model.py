"""
Lookups on the layline formula's configuration model (the merged ``layline`` pillar).

Pure functions over plain dicts, shared by the execution modules on the minions and the
runner on the master, so both compute nodes and addresses the same way. Every lookup takes
the merged ``config`` and, where the answer depends on who asks, the ``minion_id``; none
reads the pillar or the loader's dunders (canonical addresses: ``layline_address``).
"""

import copy
import hashlib
import json
import re

from salt.exceptions import CommandExecutionError

from layline_schema import (
    CONTEXT_KEY,
    LOOPBACK,
    MASK,
    ROLE_ORDER,
    SEED_GATE,
    SEED_GATE_MARKER,
    SYSTEM_NAME,
)

_SECRET_KEY_RE = re.compile(r"pass(word|wd|phrase)?$|secret|token|credential", re.IGNORECASE)

# The states' configuration comes from layline/map.jinja (defaults.yaml, osfamilymap.yaml,
# pillar); Python renders that same file, so there is one merge.
MAPDATA_TEMPLATE = (
    '{%- set tpldir = "layline" %}'
    '{%- from "layline/map.jinja" import mapdata %}'
    "{{ mapdata | json }}"
)


class ModelError(CommandExecutionError):
    """The model cannot be produced; the message says what to fix (an operator's error)."""


def section(config, key):
    """``config[key]`` when it is a mapping, else an empty dict."""
    value = (config or {}).get(key)
    return value if isinstance(value, dict) else {}


def nodes(config):
    """The entries of ``cluster:nodes`` (a list, possibly empty)."""
    found = section(config, "cluster").get("nodes")
    return found if isinstance(found, list) else []


def is_single_host(config):
    """layline's own default: no nodes and no config server minion in the pillar."""
    return not nodes(config) and not section(config, "config_server").get("minion")


def engine_nodes(config, minion_id=None):
    """
    The ordered engine node entries (dicts); in the single-host default, ``minion_id`` on
    127.0.0.1 (none without a ``minion_id``).
    """
    if is_single_host(config):
        return [{"minion": minion_id, "hostname": LOOPBACK}] if minion_id else []
    return [node for node in nodes(config) if isinstance(node, dict)]


def this_engine_node(config, minion_id):
    """The engine node entry of ``minion_id``, or None."""
    for node in engine_nodes(config, minion_id):
        if node.get("minion") == minion_id:
            return node
    return None


def roles(config, minion_id):
    """The layline roles of ``minion_id``, a sublist of ``ROLE_ORDER`` (in that order)."""
    database = section(config, "database")
    found = set()
    if database.get("backend") == "mysql" and database.get("minion") == minion_id:
        found.add("database")
    if is_single_host(config):
        found.update(("config-server", "engine"))
    else:
        if section(config, "config_server").get("minion") == minion_id:
            found.add("config-server")
        if this_engine_node(config, minion_id) is not None:
            found.add("engine")
    if section(config, "monitoring").get("minion") == minion_id:
        found.add("monitoring")
    return [role for role in ROLE_ORDER if role in found]


def config_server_hostname(config):
    """Where the engines reach the config server: 127.0.0.1 in the single-host default."""
    if is_single_host(config):
        return LOOPBACK
    return section(config, "config_server").get("hostname")


def node_host(node):
    """Where a minion reaches an engine node: its ``address``, else its ``hostname``."""
    return node.get("address") or node["hostname"]


def monitoring_entry(config):
    """``layline:monitoring`` when it names a machine, else an empty dict."""
    monitoring = section(config, "monitoring")
    return (
        monitoring
        if monitoring.get("minion") or monitoring.get("hostname") or monitoring.get("address")
        else {}
    )


def node_entries(config):
    """(pillar key, entry) of every machine entry: engines, config server, database (mysql),
    monitoring."""
    entries = [
        (f"cluster:nodes[{index}]", node)
        for index, node in enumerate(nodes(config))
        if isinstance(node, dict)
    ]
    config_server = section(config, "config_server")
    if config_server.get("minion") or config_server.get("hostname"):
        entries.append(("config_server", config_server))
    database = section(config, "database")
    if database.get("backend") == "mysql":
        entries.append(("database", database))
    monitoring = monitoring_entry(config)
    if monitoring:
        entries.append(("monitoring", monitoring))
    return entries


def is_one_machine(config):
    """True when every machine entry names one minion (or none): loopback is fine then."""
    minions = {entry.get("minion") for _key, entry in node_entries(config)}
    return len({minion for minion in minions if minion}) <= 1


def bind_any(config):
    """``layline:network:bind_any`` is true: the listeners bind 0.0.0.0."""
    return section(config, "network").get("bind_any") is True


def own_key(config, minion_id):
    """The pillar key of the first machine entry of ``minion_id`` (engine, config server,
    database, monitoring), or None."""
    for key, entry in node_entries(config):
        if entry.get("minion") == minion_id:
            return key
    return None


def engine_key(config, minion_id):
    """``cluster:nodes[i]`` of the engine entry of ``minion_id``, or None."""
    for index, node in enumerate(nodes(config)):
        if isinstance(node, dict) and node.get("minion") == minion_id:
            return f"cluster:nodes[{index}]"
    return None


def url_host(hostname):
    """Hostname as it appears in a URL or a Pekko address (IPv6 in brackets)."""
    return f"[{hostname}]" if ":" in str(hostname) else str(hostname)


def seed_address(hostname, cluster_port):
    """The Pekko address of a member: ``pekko://layline@host:port``."""
    return f"pekko://{SYSTEM_NAME}@{url_host(hostname)}:{cluster_port}"


def seed_nodes(config, minion_id):
    """The Pekko addresses of the seed nodes (every engine, in ``cluster:nodes`` order)."""
    cluster_port = section(config, "ports").get("cluster")
    return [
        seed_address(node["hostname"], cluster_port) for node in engine_nodes(config, minion_id)
    ]


def seed_gate_marker(config):
    """The file the first seed node's start gate records a failed end in."""
    return f"{str(config.get('home', '')).rstrip('/')}/{SEED_GATE_MARKER}"


def seed_gate(config, minion_id):
    """
    ExecStartPre/ExecStopPost argv of the first seed node's start gate
    (``{"check": argv, "record": argv}``), or {} for every other minion.

    Pekko lets the first seed node join itself when no other seed answers within
    seed-node-timeout: after it was downed in a partition and restarted while still cut off,
    it would form an island that never merges back. Only the first seed of a multi-node
    cluster gets the gate; a cold start (no failure recorded) is never held back.
    """
    if is_single_host(config):
        return {}
    found = engine_nodes(config, minion_id)
    if len(found) < 2 or found[0].get("minion") != minion_id:
        return {}
    cluster_port = section(config, "ports").get("cluster")
    marker = seed_gate_marker(config)
    others = [f"{url_host(node['hostname'])}:{cluster_port}" for node in found[1:]]
    return {"check": [SEED_GATE, "check", marker, *others], "record": [SEED_GATE, "record", marker]}


def _fingerprint(pillar):
    """A digest of pillar ``layline``: the cached model is reused only while it is unchanged."""
    if pillar is None:
        return None
    text = json.dumps(pillar.get("layline"), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load(renderer, context, pillar):
    """
    The merged model with its real secrets: ``renderer`` (the loader's ``slsutil.renderer``)
    renders salt://layline/map.jinja, the result is cached in ``context`` (the loader's
    ``__context__``, shared by the execution and state modules of one run) while pillar
    ``layline`` is unchanged. Every module reads the model through this one function; it
    returns a copy, so a caller cannot change the cache. Raises ModelError.
    """
    fingerprint = _fingerprint(pillar)
    cached = context.get(CONTEXT_KEY)
    if cached is not None and cached[0] == fingerprint:
        return copy.deepcopy(cached[1])
    try:
        config = json.loads(renderer(string=MAPDATA_TEMPLATE, default_renderer="jinja"))
    except Exception as exc:  # noqa: BLE001 - any render failure gets the same advice
        raise ModelError(
            f"cannot render salt://layline/map.jinja: {exc}; is the layline "
            "formula in the master's file_roots (or gitfs), and is pillar layline a mapping?"
        ) from None
    if not isinstance(config, dict):
        raise ModelError("salt://layline/map.jinja did not give a mapping")
    context[CONTEXT_KEY] = (fingerprint, config)
    return copy.deepcopy(config)


def mysql_native_hash(password):
    """
    MySQL's native password hash of ``password`` (``*`` + upper-case hex SHA1(SHA1(password))).
    Only the state ``layline_db.account_present`` calls it, inside the state: the hash is never
    a function's return, state data or a state's output.
    """
    if password in (None, ""):
        raise CommandExecutionError("layline:database:password is required for backend mysql")
    inner = hashlib.sha1(str(password).encode("utf-8")).digest()  # noqa: S324 - MySQL's scheme
    return "*" + hashlib.sha1(inner).hexdigest().upper()  # noqa: S324


# ---------------------------------------------------------------------------
# secrets: the one masker (keys named like secrets) and the one redactor (known values)
# ---------------------------------------------------------------------------


def is_secret_key(key):
    """True for a key named like a password, secret, token or credential."""
    return isinstance(key, str) and bool(_SECRET_KEY_RE.search(key))


def mask_url_credentials(value):
    """``scheme://user:pw@host`` -> ``scheme://user:******@host``."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://[^/@:]*):[^/@]*@", rf"\1:{MASK}@", value)


def mask_secrets(data):
    """Copy of ``data`` with values under secret-looking keys replaced by ``******``."""
    if isinstance(data, dict):
        return {
            key: (MASK if is_secret_key(key) and value not in (None, "") else mask_secrets(value))
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [mask_secrets(item) for item in data]
    if isinstance(data, str):
        return mask_url_credentials(data)
    return data


def _secret_values(config):
    if not isinstance(config, dict):  # an invalid model: validation reports it
        return []
    password = section(config, "database").get("password")
    return [str(password)] if password not in (None, "") else []


def redact(value, config):
    """
    Remove the known secret values of ``config`` from free text (a driver's error message, a
    state comment); dicts and lists are scrubbed recursively. The one scrubber of the formula.
    """
    if isinstance(value, dict):
        return {key: redact(item, config) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item, config) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    for secret in sorted(_secret_values(config), key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, MASK)
    return mask_url_credentials(text)
