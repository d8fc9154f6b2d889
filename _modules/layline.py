"""
Execution module for layline.io, a Pekko-based stream processing platform.

Works on the formula configuration: the ``layline`` pillar deep-merged over
``layline/defaults.yaml`` and ``layline/osfamilymap.yaml`` (see
``docs/design.md``). Every public function takes an optional ``config`` dict
(the merged configuration, as ``map.jinja`` builds it); without it the module
renders ``salt://layline/map.jinja`` itself, so there is one merge only.

:depends: pyhocon (imported only where HOCON is parsed: ``render``, ``diagnose``);
          the ``layline.python`` state installs it. The module loads without it, so
          rendering the formula's SLS files never needs it.

Functions:

- configuration: ``mapdata``, ``roles``, ``monitoring``, ``is_multi_node``,
  ``validate``, ``render``, ``render_data``
- addresses: ``address`` (canonical address of a node entry), ``bind_address``
- Salt's own Python: ``python_missing``, ``python_ready``
- installation: ``version_installed``
- running cluster (read only): ``members``, ``ready``, ``status``,
  ``cluster_health``, ``diagnose``

``validate``, ``diagnose``, ``cluster_health`` and ``status`` return their data
and set a non-zero exit code (``salt``, ``salt-call``) when they find a problem.

Secrets (``database:password`` and any key named like a password, secret or
token) never appear in a return value, an error message or a log line: they
are shown as ``******``.

``extra_config`` keys: a key with dots is a HOCON path (``pekko.loglevel``
is ``pekko { loglevel }``); a key wrapped in double quotes is one literal key
(``'"com.example.Event"'`` stays ``"com.example.Event"``, as in HOCON).
"""

import copy
import difflib
import importlib.metadata
import ipaddress
import json
import logging
import math
import os.path
import re
import socket

import layline_signing
import salt.utils.http
from salt.exceptions import CommandExecutionError

import layline_files
import layline_model
import layline_schema
import layline_sync

# a re-sync in this process takes effect (see layline_sync); bind names after it
layline_sync.refresh(layline_schema, layline_files, layline_model)
_is_single_host = layline_model.is_single_host
_nodes = layline_model.nodes
_section = layline_model.section
_seed_address = layline_model.seed_address
_url_host = layline_model.url_host
# the utils this module was written for: an older synced copy counts as not synced
UTILS_API = 3

log = logging.getLogger(__name__)

__virtualname__ = "layline"

HEADER = "# Managed by Salt (layline-formula). Do not edit by hand.\n"
# the first seed node's start gate (layline/service/files/seed-gate.sh): an engine that ended
# in failure (downed, killed) does not form a cluster of its own while no other seed answers
SEED_GATE = "/usr/local/lib/layline-formula/seed-gate"
SEED_GATE_MARKER = ".layline/reactive-engine/ended-in-failure"
SBR_PROVIDER = "org.apache.pekko.cluster.sbr.SplitBrainResolverProvider"
SUPPORTED_STRATEGIES = ("keep-majority", "static-quorum", "keep-oldest", "down-all")
ROLE_ORDER = ("database", "config-server", "engine", "monitoring")
# render role -> key under layline:extra_config
RENDER_ROLES = {"reactive-engine": "reactive_engine", "config-server": "config_server"}
DB_BACKENDS = ("h2", "mysql")
SHARED_DB_NAME = {"mysql": "mysql", "h2": "h2file"}
MYSQL_DRIVER = "com.mysql.cj.jdbc.Driver"
# Connector/J settings of layline's Multi-Node Cluster Setup guide (its application.conf);
# test/unit/test_layline_guide.py holds the formula to them.
MYSQL_GUIDE_PARAMS = (
    "cachePrepStmts=true&cacheCallableStmts=true&cacheServerConfiguration=true"
    "&useLocalSessionState=true&elideSetAutoCommits=true&alwaysSendSetIsolation=false"
    "&enableQueryTimeouts=false&connectionAttributes=none"
)
H2_DRIVER = "org.h2.Driver"
# layline:database:tls: verify-identity (TLS, server certificate from the cluster CA, host name
# checked) or disabled (plain TCP); the key replaces the old database:ssl
DB_TLS_MODES = ("verify-identity", "disabled")
# The JDBC truststore only holds the public CA certificate; its password guards nothing but the
# file's checksum (the file is root-owned), so it is a fixed, documented value (Java's default).
POOL = {"numThreads": 5, "maxConnections": 5, "minConnections": 1}
# Artery over mutual TLS: Pekko's PEM-reading engine provider (remote/reference.conf)
ROTATING_KEYS_PROVIDER = "org.apache.pekko.remote.artery.tcp.ssl.RotatingKeysSSLEngineProvider"
# The database role's service group (Debian and RedHat): MariaDB reads its TLS key with it
MYSQL_GROUP = "mysql"
# RSA only: Pekko's RotatingKeysSSLEngineProvider reads no EC keys
TLS_KEY_SIZES = (2048, 3072, 4096)

# layline:monitoring:alerts keys: the `for` duration of each alert rule
ALERT_KEYS = ("member_not_up", "unreachable_members", "members_missing", "backup_stale")
KNOWN_KEYS = {
    "": {
        "version",
        "distribution",
        "install_dir",
        "config_dir",
        "user",
        "group",
        "home",
        "ports",
        "cluster",
        "config_server",
        "database",
        "extra_config",
        "lookup",
        "nologin_shell",
        "python",
        "rolling",
        "network",
        "firewall",
        "tls",
        "backup",
        "restore",
        "metrics",
        "monitoring",
    },
    "python": {"index_url", "extra_index_url", "requirements", "allow_insecure_index"},
    "distribution": {"source", "source_hash", "installer_args", "cache_dir", "prerequisites"},
    "ports": {"config_server", "rest", "cluster", "management"},
    "cluster": {"name", "nodes", "min_nr_of_members", "split_brain_resolver"},
    "cluster:split_brain_resolver": {"strategy", "stable_after", "quorum_size"},
    "config_server": {"minion", "hostname", "address"},
    "database": {
        "backend",
        "minion",
        "hostname",
        "port",
        "name",
        "user",
        "password",
        "allowed_hosts",
        "ssl",
        "server_package",
        "client_package",
        "service",
        "server_config",
        "bind_address",
        "socket",
        "wait_timeout",
        "address",
        "skip_name_resolve",
        "tls",
    },
    "network": {"bind_any"},
    "firewall": {
        "enabled",
        "browsers",
        "clients",
        "scrape",
        "operators",
        "backend",
        "package",
        "service",
        "ruleset_file",
        "zone",
    },
    "extra_config": {"reactive_engine", "config_server"},
    "rolling": {"all", "max_unavailable", "timeout", "poll_interval", "join_timeout", "on_failure"},
    "tls": {
        "enabled",
        "ca_minion",
        "days",
        "renew_days",
        "ca_days",
        "key_size",
        "signing_policy",
        "wait_timeout",
    },
    "backup": {"enabled", "on_calendar", "dir", "keep", "textfile_dir"},
    "restore": {"file"},
    "metrics": {"enabled", "port"},
    "monitoring": {
        "minion",
        "hostname",
        "address",
        "port",
        "scrape_interval",
        "metrics_path",
        "node_exporter_port",
        "backup_max_age",
        "alerts",
    },
    "monitoring:alerts": set(ALERT_KEYS),
}

_HEX_DIGEST_LENGTHS = {"sha256": 64, "sha512": 128}
# source_hash: a literal digest or a file the master serves (authenticated by Salt itself)
_HASH_URL_RE = re.compile(r"salt://[^\s\x00-\x1f\x7f]+")
# source: https only with a literal digest (checked below); http and ftp are unauthenticated
_SOURCE_URL_RE = re.compile(r"(salt|https|file)://[^\s\x00-\x1f\x7f]+")
_ACCOUNT_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,30}[a-z0-9_$-]?$")
_CLUSTER_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]*$")
_DNS_LABEL_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_MYSQL_IDENT_RE = re.compile(r"^[A-Za-z0-9_]+$")
_DURATION_RE = re.compile(
    r"\d+(\.\d+)? ?(ns|nanos?|nanoseconds?|us|micros?|microseconds?|ms|millis?|"
    r"milliseconds?|s|seconds?|m|minutes?|h|hours?|d|days?)"
)
_BARE_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_HOCON_RESERVED = {"include", "true", "false", "null", "yes", "no", "on", "off"}
# C0 controls that pyhocon cannot read back from an escaped string (it knows \t \n \r only)
_UNSAFE_CHAR_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# keys: pyhocon does not unescape quoted keys, so no control character at all
_CONTROL_CHAR_RE = re.compile(r"[\x00-\x1f]")
# values that reach a path, a command line or a unit: no whitespace, no control character
_UNSAFE_WORD_RE = re.compile(r"[\s\x00-\x1f\x7f]")
# paths are also written quoted (my.cnf, units): no quote or backslash either
_UNSAFE_PATH_RE = re.compile(r"[\s\x00-\x1f\x7f\"'\\]")
# systemd calendar expressions (systemd.time(7)): written to OnCalendar= as they are
_CALENDAR_RE = re.compile(r"[A-Za-z0-9*][A-Za-z0-9 ,.:*/~+-]{0,199}")
_PACKAGE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_:@~-]*")
_MYSQL_HOST_RE = re.compile(r"[A-Za-z0-9.%_:/-]{1,255}")
NODE_KEYS = ("minion", "hostname", "address")
# home, install_dir and cache_dir must be directories of their own: the formula chowns the
# home to the service user and deletes install_dir and cache_dir in layline.clean
SYSTEM_DIRS = frozenset(
    (
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib64",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/usr/bin",
        "/usr/lib",
        "/usr/local",
        "/usr/sbin",
        "/usr/share",
        "/var",
        "/var/cache",
        "/var/lib",
        "/var/log",
        "/var/tmp",
    )
)
# pillar key -> allowed types (None: null allowed); keys not listed are checked elsewhere
_TYPES = {
    "version": (str,),
    "install_dir": (str,),
    "config_dir": (str,),
    "user": (str,),
    "group": (str,),
    "home": (str,),
    "nologin_shell": (str,),
    "distribution": (dict,),
    "ports": (dict,),
    "cluster": (dict,),
    "config_server": (dict,),
    "database": (dict,),
    "extra_config": (dict,),
    "lookup": (dict,),
    "distribution:source": (str,),
    "distribution:source_hash": (str,),
    "distribution:installer_args": (list,),
    "distribution:cache_dir": (str,),
    "distribution:prerequisites": (list,),
    "ports:config_server": (int,),
    "ports:rest": (int,),
    "ports:cluster": (int,),
    "ports:management": (int,),
    "cluster:name": (str,),
    "cluster:nodes": (list,),
    "cluster:min_nr_of_members": (int,),
    "cluster:split_brain_resolver": (dict,),
    "cluster:split_brain_resolver:strategy": (str,),
    "cluster:split_brain_resolver:stable_after": (str,),
    "cluster:split_brain_resolver:quorum_size": (int, None),
    "config_server:minion": (str, None),
    "config_server:hostname": (str, None),
    "database:backend": (str,),
    "database:minion": (str, None),
    "database:hostname": (str, None),
    "database:port": (int,),
    "database:name": (str,),
    "database:user": (str,),
    "database:password": (str,),
    "database:allowed_hosts": (list,),
    "database:tls": (str,),
    "database:server_package": (str,),
    "database:client_package": (str, None),
    "database:service": (str,),
    "database:server_config": (str,),
    "database:bind_address": (str, None),
    "database:socket": (str,),
    "database:address": (str, None),
    "database:skip_name_resolve": (bool,),
    "config_server:address": (str, None),
    "network": (dict,),
    "network:bind_any": (bool,),
    "firewall": (dict,),
    "firewall:enabled": (bool,),
    "firewall:browsers": (list,),
    "firewall:clients": (list,),
    "firewall:scrape": (list,),
    "firewall:operators": (list,),
    "firewall:backend": (str, None),
    "firewall:package": (str,),
    "firewall:service": (str,),
    "firewall:ruleset_file": (str,),
    "firewall:zone": (str,),
    "database:wait_timeout": (int,),
    "extra_config:reactive_engine": (dict, None),
    "extra_config:config_server": (dict, None),
    "tls": (dict,),
    "tls:enabled": (bool,),
    "tls:ca_minion": (str, None),
    "tls:days": (int,),
    "tls:renew_days": (int,),
    "tls:ca_days": (int,),
    "tls:key_size": (int,),
    "tls:signing_policy": (str,),
    "tls:wait_timeout": (int,),
    "backup": (dict,),
    "backup:enabled": (bool,),
    "backup:on_calendar": (str,),
    "backup:dir": (str,),
    "backup:keep": (int,),
    "backup:textfile_dir": (str,),
    "restore": (dict,),
    "restore:file": (str, None),
    "metrics": (dict,),
    "metrics:enabled": (bool,),
    "metrics:port": (int,),
    "monitoring": (dict,),
    "monitoring:minion": (str, None),
    "monitoring:hostname": (str, None),
    "monitoring:address": (str, None),
    "monitoring:port": (int,),
    "monitoring:scrape_interval": (str,),
    "monitoring:metrics_path": (str,),
    "monitoring:node_exporter_port": (int,),
    "monitoring:backup_max_age": (str, None),
    "monitoring:alerts": (dict,),
    **{f"monitoring:alerts:{key}": (str,) for key in ALERT_KEYS},
}
_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    list: "a list",
    dict: "a mapping",
}
# extra_config paths the formula sets itself (one seed list, one persistence setting, ...):
# (role key, HOCON path) -> what to set instead
OWNED_PATHS = {
    ("reactive_engine", "pekko.cluster.seed-nodes"): "layline:cluster:nodes (seed order)",
    (
        "reactive_engine",
        "pekko.remote.artery.canonical",
    ): "layline:cluster:nodes[].hostname and layline:ports:cluster",
    ("reactive_engine", "pekko.remote.artery.bind"): "layline:ports:cluster",
    (
        "reactive_engine",
        "layline.reactive-engine.rest-server",
    ): "layline:cluster:nodes[].hostname and layline:ports:rest",
    ("reactive_engine", "pekko.management.http.hostname"): "layline:cluster:nodes[].hostname",
    ("reactive_engine", "pekko.management.http.port"): "layline:ports:management",
    ("reactive_engine", "pekko.management.http.bind-hostname"): "layline:cluster:nodes",
    ("reactive_engine", "pekko.management.http.bind-port"): "layline:ports:management",
    ("reactive_engine", "pekko.actor.provider"): "nothing: layline engines are cluster members",
    ("reactive_engine", "pekko.cluster.min-nr-of-members"): "layline:cluster:min_nr_of_members",
    (
        "reactive_engine",
        "pekko.cluster.downing-provider-class",
    ): "layline:cluster:split_brain_resolver",
    (
        "reactive_engine",
        "pekko.cluster.split-brain-resolver.active-strategy",
    ): "layline:cluster:split_brain_resolver:strategy",
    (
        "reactive_engine",
        "pekko.cluster.split-brain-resolver.stable-after",
    ): "layline:cluster:split_brain_resolver:stable_after",
    (
        "reactive_engine",
        "pekko.cluster.split-brain-resolver.static-quorum.quorum-size",
    ): "layline:cluster:split_brain_resolver:quorum_size",
    ("reactive_engine", "layline.reactive-engine.metrics"): "layline:metrics",
    (
        "reactive_engine",
        "pekko.cluster.run-coordinated-shutdown-when-down",
    ): "nothing: a downed engine must exit so that its unit restarts it",
    (
        "reactive_engine",
        "pekko.coordinated-shutdown.exit-jvm",
    ): "nothing: a downed engine must exit so that its unit restarts it",
    (
        "config_server",
        "layline.config-server.rest-server",
    ): "layline:config_server:hostname and layline:ports:config_server",
    ("reactive_engine", "pekko.remote.artery.transport"): "layline:tls:enabled",
    ("reactive_engine", "pekko.remote.artery.ssl"): "layline:tls",
}
for _role in ("reactive_engine", "config_server"):
    OWNED_PATHS.update(
        {
            (_role, "pekko.persistence.journal.plugin"): "layline:database",
            (_role, "pekko.persistence.snapshot-store.plugin"): "layline:database",
            (_role, "jdbc-journal.use-shared-db"): "layline:database",
            (_role, "jdbc-read-journal.use-shared-db"): "layline:database",
            (_role, "jdbc-snapshot-store.use-shared-db"): "layline:database",
            (_role, "pekko-persistence-jdbc.shared-databases"): "layline:database",
        }
    )


def __virtual__():
    problem = layline_sync.out_of_date(layline_schema, UTILS_API)
    if problem:
        return False, problem
    # No dependency check: the SLS files call this module while they render, before the
    # layline.python state installed pyhocon. Functions that parse HOCON import it themselves.
    return __virtualname__


def _config_factory():
    """pyhocon's ConfigFactory, or an error that says how to install it."""
    try:
        from pyhocon import ConfigFactory
    except ImportError:
        raise CommandExecutionError(
            "pyhocon is not installed in Salt's own Python: apply the layline.python state "
            "first (salt '<minion>' state.apply layline.python)"
        ) from None
    return ConfigFactory


def _set_retcode(failed):
    """Make `salt`/`salt-call` exit non-zero when a check failed; the data is still returned."""
    if failed:
        __context__["retcode"] = 1


# ---------------------------------------------------------------------------
# configuration: loading, lookups, roles
# ---------------------------------------------------------------------------


def _load_config():
    """
    The merged model with its real secrets, rendered on the minion by salt://layline/map.jinja
    and cached in ``__context__`` (see :py:func:`layline_model.load`). Private on purpose:
    never a state argument, a return or a CLI answer.
    """
    return layline_model.load(__salt__["slsutil.renderer"], __context__, _pillar())


def _pillar():
    try:
        return __pillar__
    except NameError:  # outside the loader (unit tests)
        return None


def _config(config):
    """``config`` when given (tests), else the model read on this minion."""
    return _load_config() if config is None else config


def _minion_id(minion_id=None):
    return minion_id if minion_id is not None else __opts__["id"]


def _engine_nodes(config, minion_id):
    """The ordered engine nodes; in the single-host default, this minion on 127.0.0.1."""
    return layline_model.engine_nodes(config, minion_id)


def _this_engine_node(config, minion_id):
    for node in _engine_nodes(config, minion_id):
        if node.get("minion") == minion_id:
            return node
    return None


def _roles_for(config, minion_id):
    database = _section(config, "database")
    found = set()
    if database.get("backend") == "mysql" and database.get("minion") == minion_id:
        found.add("database")
    if _is_single_host(config):
        found.update(("config-server", "engine"))
    else:
        if _section(config, "config_server").get("minion") == minion_id:
            found.add("config-server")
        if _this_engine_node(config, minion_id) is not None:
            found.add("engine")
    if _section(config, "monitoring").get("minion") == minion_id:
        found.add("monitoring")
    return [role for role in ROLE_ORDER if role in found]


def _config_server_hostname(config):
    if _is_single_host(config):
        return layline_schema.LOOPBACK
    return _section(config, "config_server").get("hostname")


def _seed_nodes(config, minion_id):
    cluster_port = _section(config, "ports").get("cluster")
    nodes = _engine_nodes(config, minion_id)
    return [_seed_address(node["hostname"], cluster_port) for node in nodes]


def _seed_gate_marker(config):
    return f"{str(config.get('home', '')).rstrip('/')}/{SEED_GATE_MARKER}"


def _seed_gate(config, minion_id):
    """ExecStartPre/ExecStopPost argv of the first seed node's start gate, or {}.

    Pekko lets the first seed node join itself when no other seed answers within
    seed-node-timeout: after it was downed in a partition and restarted while still cut off,
    it would form an island that never merges back. Only the first seed of a multi-node
    cluster gets the gate; a cold start (no failure recorded) is never held back.
    """
    if _is_single_host(config):
        return {}
    nodes = _engine_nodes(config, minion_id)
    seeds = _seed_nodes(config, minion_id)  # in the order of nodes
    if len(seeds) < 2 or nodes[0].get("minion") != minion_id:
        return {}
    marker = _seed_gate_marker(config)
    others = []
    for address in seeds[1:]:
        match = re.match(r"^[a-z]+://[^@/]+@(\[[^\]]+\]|[^:/]+):(\d+)$", address)
        others.append(f"{match.group(1)}:{match.group(2)}")
    return {"check": [SEED_GATE, "check", marker, *others], "record": [SEED_GATE, "record", marker]}


# ---------------------------------------------------------------------------
# canonical addresses (where a node listens and where the others reach it)
# ---------------------------------------------------------------------------


def _getaddrinfo(host):
    """The resolver (a seam for the unit tests): getaddrinfo's answers for ``host``."""
    return socket.getaddrinfo(host, None, 0, socket.SOCK_STREAM)


def _monitoring(config):
    """layline:monitoring (issue 11b's role) when it names a machine, else an empty dict."""
    monitoring = _section(config, "monitoring")
    return (
        monitoring
        if monitoring.get("minion") or monitoring.get("hostname") or monitoring.get("address")
        else {}
    )


def _node_entries(config):
    """(pillar key, entry) of every machine entry: engines, config server, database,
    monitoring."""
    entries = [
        (f"cluster:nodes[{index}]", node)
        for index, node in enumerate(_nodes(config))
        if isinstance(node, dict)
    ]
    config_server = _section(config, "config_server")
    if config_server.get("minion") or config_server.get("hostname"):
        entries.append(("config_server", config_server))
    database = _section(config, "database")
    if database.get("backend") == "mysql":
        entries.append(("database", database))
    if _monitoring(config):
        entries.append(("monitoring", _monitoring(config)))
    return entries


def _is_one_machine(config):
    """True when every role runs on one minion: loopback addresses are fine then."""
    minions = {entry.get("minion") for _key, entry in _node_entries(config)}
    return len({minion for minion in minions if minion}) <= 1


def _bind_any(config):
    return _section(config, "network").get("bind_any") is True


def _preferred(addresses):
    """IPv4 first (getaddrinfo's order otherwise), so a name with both families is stable."""
    v4 = [a for a in addresses if ipaddress.ip_address(a).version == 4]
    return (v4 or addresses)[0]


def _resolve_entry(config, key, entry, minion_id):
    """The canonical address of one node entry: its ``address``, else its ``hostname``
    resolved here; loopback is refused unless every role runs on one machine."""
    where = f"layline:{key}"
    literal = entry.get("address")
    if literal not in (None, ""):
        try:
            address = str(ipaddress.ip_address(literal))
        except ValueError:
            raise CommandExecutionError(
                f"{where}:address: {literal!r} is not an IP address"
            ) from None
        source = f"{where}:address {address}"
    else:
        hostname = entry.get("hostname")
        if not _is_nonempty_str(hostname):
            raise CommandExecutionError(f"{where}:hostname is required (or set {where}:address)")
        try:
            found = [info[4][0].split("%")[0] for info in _getaddrinfo(hostname)]
        except (OSError, UnicodeError) as exc:
            raise CommandExecutionError(
                f"{where}:hostname: {hostname!r} does not resolve on minion {minion_id}: {exc}; "
                f"fix DNS or /etc/hosts, or set {where}:address to the node's IP address"
            ) from None
        if not found:
            raise CommandExecutionError(
                f"{where}:hostname: {hostname!r} has no address on minion {minion_id}"
            )
        address = _preferred(found)
        source = f"{where}:hostname {hostname!r} resolves to {address} on minion {minion_id}"
    if ipaddress.ip_address(address).is_loopback and not _is_one_machine(config):
        raise CommandExecutionError(
            f"{source}, a loopback address: the other machines of the cluster cannot reach a "
            f"listener there; set {where}:address to the machine's own IP address "
            "(or fix /etc/hosts, e.g. Debian's '127.0.1.1 <hostname>' line)"
        )
    if ipaddress.ip_address(address).is_unspecified:
        raise CommandExecutionError(f"{source}: 0.0.0.0/:: is not a machine's address")
    return address


def _entry_for(config, key):
    for entry_key, entry in _node_entries(config):
        if entry_key == key:
            return entry
    known = ", ".join(k for k, _e in _node_entries(config)) or "none"
    raise CommandExecutionError(f"layline:{key} is not a node entry (known: {known})")


def _own_key(config, minion_id):
    """The pillar key of this minion's first entry (engine, config server, database,
    monitoring), or None."""
    for key, entry in _node_entries(config):
        if entry.get("minion") == minion_id:
            return key
    return None


def _engine_key(config, minion_id):
    """``cluster:nodes[i]`` of this minion's engine entry, or None."""
    for index, node in enumerate(_nodes(config)):
        if isinstance(node, dict) and node.get("minion") == minion_id:
            return f"cluster:nodes[{index}]"
    return None


def _address(config, key=None, minion_id=None):
    """Canonical address of the entry ``key`` (default: this minion's own entry);
    127.0.0.1 for the engine and config server of the single-host default."""
    minion_id = _minion_id(minion_id)
    if key is None:
        key = _own_key(config, minion_id)
        if key is None:
            if _is_single_host(config):
                return layline_schema.LOOPBACK
            raise CommandExecutionError(
                f"minion {minion_id!r} has no entry in layline:cluster:nodes, config_server, "
                "database or monitoring"
            )
    return _resolve_entry(config, key, _entry_for(config, key), minion_id)


def _engine_addresses(config, minion_id):
    """Canonical addresses of every engine (none in the single-host default: it is local)."""
    if _is_single_host(config):
        return []
    return [
        _resolve_entry(config, f"cluster:nodes[{index}]", node, minion_id)
        for index, node in enumerate(_nodes(config))
        if isinstance(node, dict)
    ]


def _config_server_addresses(config, minion_id):
    if _is_single_host(config):
        return []
    return [_address(config, "config_server", minion_id)]


def _bind_for(config, key, minion_id):
    """Where the listeners of entry ``key`` bind: 0.0.0.0 when layline:network:bind_any,
    127.0.0.1 in the single-host default, else the entry's canonical address."""
    if _bind_any(config):
        return layline_schema.ANY_ADDRESS
    if _is_single_host(config) and key != "database":
        return layline_schema.LOOPBACK
    if key is None:
        raise CommandExecutionError(
            f"minion {minion_id!r} has no entry in layline:cluster:nodes, config_server or "
            "database: nothing of layline listens there"
        )
    return _resolve_entry(config, key, _entry_for(config, key), minion_id)


def _node_host(node):
    """Where this minion reaches an engine node: its address, else its hostname."""
    return node.get("address") or node["hostname"]


def _address_errors(config, minion_id):
    """Resolution problems of every entry this minion binds to or lets through its
    firewall, as validation messages (run on the minion, before anything changes)."""
    errors = []
    for key, _entry in _node_entries(config):
        try:
            _resolve_entry(config, key, _entry, minion_id)
        except CommandExecutionError as exc:
            errors.append(str(exc))
    return errors


# ---------------------------------------------------------------------------
# secrets
# ---------------------------------------------------------------------------


_is_secret_key = layline_model.is_secret_key
_mask_url_credentials = layline_model.mask_url_credentials
_mask_secrets = layline_model.mask_secrets
_redact = layline_model.redact


# ---------------------------------------------------------------------------
# validation (pure)
# ---------------------------------------------------------------------------


class _Findings:
    """Errors and warnings by pillar key; one error per key (the first problem found)."""

    def __init__(self):
        self.errors = []
        self.warnings = []
        self.failed = set()

    def error(self, key, message):
        if key in self.failed:
            return
        self.failed.add(key)
        self.errors.append(f"layline:{key}: {message}")

    def warn(self, key, message):
        self.warnings.append(f"layline:{key}: {message}")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_nonempty_str(value):
    return isinstance(value, str) and value.strip() != ""


def _is_valid_hostname(value):
    if not isinstance(value, str) or not value:
        return False
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    labels = value.split(".")
    if len(value) > 253 or labels[-1].isdigit():
        # an all-numeric last label is an IPv4 address gone wrong (e.g. 10.0.0.300)
        return False
    return all(_DNS_LABEL_RE.fullmatch(label) for label in value.split("."))


def _is_valid_source_hash(value):
    if not _is_nonempty_str(value):
        return False
    if _HASH_URL_RE.fullmatch(value):
        return True
    if "://" in value:
        return False
    algorithm, sep, digest = value.partition("=")
    if sep:
        expected = _HEX_DIGEST_LENGTHS.get(algorithm.lower())
        return expected is not None and len(digest) == expected and _is_hex(digest)
    return len(value) in _HEX_DIGEST_LENGTHS.values() and _is_hex(value)


def _is_hex(value):
    return bool(re.fullmatch(r"[0-9a-fA-F]+", value))


def _unknown_key_message(key, known):
    close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(known))}"
    return f"unknown key: {hint}"


def _check_unknown_keys(config, found):
    """An unknown key is an error: a typo must not silently fall back to a default."""
    for section, known in KNOWN_KEYS.items():
        data = config if section == "" else _dig(config, section)
        if not isinstance(data, dict):
            continue
        for key in sorted(data, key=str):
            if key not in known:
                where = f"{section}:{key}" if section else str(key)
                found.error(where, _unknown_key_message(key, known))


def _type_ok(value, types):
    if value is None:
        return None in types
    if isinstance(value, bool):
        return bool in types
    return any(isinstance(value, kind) for kind in types if kind is not None)


def _check_types(config, found):
    """Null and wrong types are errors (a null version must not become the string None)."""
    for key, types in _TYPES.items():
        parent, _sep, leaf = key.rpartition(":")
        section = config if not parent else _dig(config, parent)
        if not isinstance(section, dict) or leaf not in section:
            continue
        value = section[leaf]
        if _type_ok(value, types):
            continue
        expected = " or ".join(_TYPE_NAMES[kind] for kind in types if kind is not None)
        got = "null" if value is None else type(value).__name__
        found.error(
            key, f"must be {expected}, got {got}" + (" (quote it in YAML)" if str in types else "")
        )


def _check_path(found, key, value, own_directory=False):
    """A path that reaches a file, a command or a unit: absolute, normalised, one word."""
    if not isinstance(value, str):
        return
    if _UNSAFE_PATH_RE.search(value):
        found.error(key, "must not contain whitespace, quotes, backslashes or control characters")
    elif not value.startswith("/"):
        found.error(key, f"{value!r} must be an absolute path")
    elif os.path.normpath(value) != value or value.startswith("//"):
        found.error(
            key, f"{value!r} must be a normalised path (no '..', '.', '//' or trailing '/')"
        )
    elif own_directory and value in SYSTEM_DIRS:
        found.error(
            key,
            f"{value!r} is a system directory; use a directory of its own, "
            "e.g. /opt/layline, /var/lib/layline or /var/cache/layline",
        )


def _is_inside(path, directory):
    return (
        isinstance(path, str)
        and isinstance(directory, str)
        and (path == directory or path.startswith(directory.rstrip("/") + "/"))
    )


def _check_words(found, key, values, pattern, what):
    """Each string of ``values`` (a string or a list) must match ``pattern``."""
    if isinstance(values, str):
        if not pattern.fullmatch(values):
            found.error(key, f"{values!r} is not {what}")
        return
    for index, value in enumerate(values if isinstance(values, list) else []):
        if not isinstance(value, str) or not pattern.fullmatch(value):
            found.error(f"{key}[{index}]", f"{value!r} is not {what}")


def _dig(config, path):
    data = config
    for part in path.split(":"):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _check_version_and_distribution(config, found, installs):
    version = config.get("version")
    if not _is_nonempty_str(version):
        found.error("version", "must be a non-empty string (quote it in YAML, e.g. '2.5.4')")
    elif not _VERSION_RE.fullmatch(version):
        found.error("version", f"{version!r} is not a version string like 2.5.4")

    dist = config.get("distribution")
    if not isinstance(dist, dict):
        found.error("distribution", "must be a mapping with source, source_hash, installer_args")
        return
    source = dist.get("source")
    if not _is_nonempty_str(source):
        if installs:
            found.error(
                "distribution:source",
                "is required (salt://, https:// or file:// "
                "URL of layline-linux-amd64-<version>.sh)",
            )
    elif not _SOURCE_URL_RE.fullmatch(source):
        found.error(
            "distribution:source",
            f"{_mask_url_credentials(source)!r} must be a "
            "salt://, https:// or file:// URL without whitespace (http:// and ftp:// "
            "are unauthenticated)",
        )
    source_hash = dist.get("source_hash")
    if source_hash in (None, ""):
        if installs:
            found.error(
                "distribution:source_hash",
                "is required: a sha256/sha512 hex digest, "
                "'sha256=<hex>', or the salt:// URL of a hash file; Salt never "
                "installs an unverified download",
            )
    elif not _is_valid_source_hash(source_hash):
        found.error(
            "distribution:source_hash",
            f"{source_hash!r} is neither a sha256/sha512 "
            "hex digest, '<sha256|sha512>=<hex>', nor a salt:// URL of a hash file "
            "(a hash fetched over http(s) or ftp proves nothing about the download)",
        )
    _check_path(found, "distribution:cache_dir", dist.get("cache_dir"), own_directory=True)
    _check_words(
        found,
        "distribution:prerequisites",
        dist.get("prerequisites"),
        _PACKAGE_RE,
        "a package name",
    )
    args = dist.get("installer_args")
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        found.error(
            "distribution:installer_args", "must be a list of strings, e.g. ['-q', '-dir', '{dir}']"
        )
    elif any(_CONTROL_CHAR_RE.search(arg) for arg in args):
        found.error("distribution:installer_args", "must not contain control characters")
    elif not any("{dir}" in arg for arg in args):
        # each version goes into its own release directory, never the one a node runs
        found.error(
            "distribution:installer_args",
            "must contain {dir} (replaced by the "
            "release directory <install_dir>/releases/<version>), e.g. "
            "['-q', '-dir', '{dir}']",
        )


def _check_paths_and_account(config, found):
    for key in ("install_dir", "home", "config_dir"):
        value = config.get(key)
        if not _is_nonempty_str(value):
            found.error(key, "must be an absolute path")
        _check_path(found, key, value, own_directory=True)
    _check_path(found, "nologin_shell", config.get("nologin_shell"))
    home = config.get("home")
    for key, value in (
        ("install_dir", config.get("install_dir")),
        ("config_dir", config.get("config_dir")),
        ("distribution:cache_dir", _dig(config, "distribution:cache_dir")),
    ):
        if _is_inside(value, home) or _is_inside(home, value):
            # root writes there: it must not be a place the service user controls
            found.error(
                key,
                f"{value!r} overlaps layline:home {home!r}: root installs there, "
                "so it must be outside the service user's home",
            )
    for key in ("user", "group"):
        value = config.get(key)
        if not isinstance(value, str) or not _ACCOUNT_RE.fullmatch(value):
            found.error(
                key,
                "must be a valid account name (lower case letters, digits, "
                "'_' and '-', at most 32 characters)",
            )
        elif value == "root":
            found.error(key, "must not be root: layline runs as an unprivileged service account")


_INDEX_URL_RE = re.compile(r"^https?://[^\s/]+(/\S*)?$")
_REQUIREMENTS_URL_RE = re.compile(r"^(salt|https?)://\S+$")


def _check_python(config, found):
    python = config.get("python")
    if not isinstance(python, dict):
        found.error("python", "must be a mapping (index_url, extra_index_url, requirements)")
        return
    insecure = python.get("allow_insecure_index", False)
    if not isinstance(insecure, bool):
        found.error("python:allow_insecure_index", "must be true or false")
        insecure = False
    # https only, unless a lab says so: the hashes pin the artefacts, but a plain-http
    # index or requirements file can be changed on the way (issue 18)
    schemes = "http:// or https://" if insecure else "https://"
    for key in ("index_url", "extra_index_url"):
        value = python.get(key)
        if value is None:
            continue
        if not (isinstance(value, str) and _INDEX_URL_RE.fullmatch(value)):
            found.error(
                f"python:{key}",
                f"must be an {schemes} URL of a package "
                "index (e.g. https://pypi.example.com/simple/) or null",
            )
        elif value.startswith("http://") and not insecure:
            found.error(
                f"python:{key}",
                "must be an https:// URL (http:// only with "
                "layline:python:allow_insecure_index: true, for a lab)",
            )
    value = python.get("requirements")
    if not (isinstance(value, str) and _REQUIREMENTS_URL_RE.fullmatch(value)):
        found.error(
            "python:requirements",
            f"must be a salt:// or {schemes} URL of a requirements "
            "file that pins every package as NAME==VERSION --hash=sha256:...",
        )
    elif value.startswith("http://") and not insecure:
        found.error(
            "python:requirements",
            "must be a salt:// or https:// URL (http:// only with "
            "layline:python:allow_insecure_index: true, for a lab)",
        )


def _check_nodes(config, found):
    cluster = config.get("cluster")
    if not isinstance(cluster, dict):
        found.error("cluster", "must be a mapping")
        return []
    name = cluster.get("name")
    if not isinstance(name, str) or not _CLUSTER_NAME_RE.fullmatch(name) or name in (".", ".."):
        found.error(
            "cluster:name",
            "must be a non-empty name of letters, digits, '_', '.', '-' "
            "(it becomes the file name clusters/<name>.json)",
        )
    nodes = cluster.get("nodes")
    if nodes is None:
        nodes = []
    if not isinstance(nodes, list):
        found.error("cluster:nodes", "must be a list of {minion, hostname} mappings")
        return []
    first_seen = {"minion": {}, "hostname": {}}
    for index, node in enumerate(nodes):
        where = f"cluster:nodes[{index}]"
        if not isinstance(node, dict):
            found.error(where, "must be a mapping with minion and hostname")
            continue
        for field in ("minion", "hostname"):
            value = node.get(field)
            if not _is_nonempty_str(value):
                found.error(f"{where}:{field}", "is required")
                continue
            if field == "hostname" and not _is_valid_hostname(value):
                found.error(f"{where}:hostname", f"{value!r} is not a valid DNS name or IP address")
            seen = first_seen[field]
            key = value.lower() if field == "hostname" else value
            if key in seen:
                found.error(
                    f"{where}:{field}",
                    f"duplicate of layline:cluster:nodes[{seen[key]}]:{field} {value!r}",
                )
            else:
                seen[key] = index
        for key in sorted(node, key=str):
            if key not in NODE_KEYS:
                found.error(f"{where}:{key}", _unknown_key_message(key, NODE_KEYS))
        _check_ip(found, f"{where}:address", node.get("address"))
        if isinstance(node.get("minion"), str) and _UNSAFE_WORD_RE.search(node["minion"]):
            found.error(f"{where}:minion", "must not contain whitespace or control characters")
    return nodes


def _engine_count(config):
    return len(_nodes(config)) if not _is_single_host(config) else 1


def _check_cluster_settings(config, found):
    cluster = _section(config, "cluster")
    count = _engine_count(config)
    members = cluster.get("min_nr_of_members")
    if not _is_int(members) or members < 1:
        found.error("cluster:min_nr_of_members", "must be an integer >= 1")
    elif members > count:
        found.error(
            "cluster:min_nr_of_members",
            f"{members} is more than the {count} "
            "configured engine node(s): the cluster would never become Up",
        )

    sbr = cluster.get("split_brain_resolver")
    if not isinstance(sbr, dict):
        found.error(
            "cluster:split_brain_resolver",
            "must be a mapping with strategy, stable_after, quorum_size",
        )
        return
    strategy = sbr.get("strategy")
    key = "cluster:split_brain_resolver"
    if strategy == "lease-majority":
        found.error(
            f"{key}:strategy",
            "lease-majority is not supported by this formula (it "
            f"needs a lease implementation); use one of {', '.join(SUPPORTED_STRATEGIES)}",
        )
    elif strategy not in SUPPORTED_STRATEGIES:
        found.error(
            f"{key}:strategy", f"{strategy!r} is not one of {', '.join(SUPPORTED_STRATEGIES)}"
        )
    elif strategy == "keep-majority" and count >= 2 and count % 2 == 0:
        found.warn(
            f"{key}:strategy",
            f"keep-majority with an even number of engine nodes "
            f"({count}): on an equal split the side with the lowest address survives, "
            "so losing that side downs the other half too; use an odd node count",
        )
    stable_after = sbr.get("stable_after")
    if not isinstance(stable_after, str) or not _DURATION_RE.fullmatch(stable_after):
        found.error(f"{key}:stable_after", "must be a HOCON duration with a unit, e.g. '20s'")
    quorum = sbr.get("quorum_size")
    if strategy == "static-quorum":
        if not _is_int(quorum) or not 1 <= quorum <= count:
            found.error(
                f"{key}:quorum_size",
                f"static-quorum needs an integer between 1 and the engine node count ({count})",
            )
        elif quorum <= count / 2:
            found.warn(
                f"{key}:quorum_size",
                f"{quorum} is not more than half of {count} "
                "nodes: both sides of a partition may keep running (split brain)",
            )
    elif quorum is not None:
        found.warn(f"{key}:quorum_size", f"is ignored by strategy {strategy!r}")


def _check_config_server(config, found, nodes):
    config_server = config.get("config_server")
    if config_server is None:
        config_server = {}
    if not isinstance(config_server, dict):
        found.error("config_server", "must be a mapping with minion and hostname")
        return
    minion = config_server.get("minion")
    hostname = config_server.get("hostname")
    if nodes:
        if not _is_nonempty_str(minion):
            found.error("config_server:minion", "is required when layline:cluster:nodes is set")
        if not _is_nonempty_str(hostname):
            found.error("config_server:hostname", "is required when layline:cluster:nodes is set")
    elif minion:
        found.error(
            "cluster:nodes",
            "is empty while layline:config_server:minion is set: list "
            "the engine nodes (minion, hostname) or remove config_server:minion for the "
            "single-host default",
        )
    if _is_nonempty_str(hostname) and not _is_valid_hostname(hostname):
        found.error("config_server:hostname", f"{hostname!r} is not a valid DNS name or IP address")
    if isinstance(minion, str) and _UNSAFE_WORD_RE.search(minion):
        found.error("config_server:minion", "must not contain whitespace or control characters")
    _check_ip(found, "config_server:address", config_server.get("address"))


def _check_database(config, found):
    database = config.get("database")
    if not isinstance(database, dict):
        found.error("database", "must be a mapping")
        return
    backend = database.get("backend")
    if backend not in DB_BACKENDS:
        found.error("database:backend", f"{backend!r} is not one of {', '.join(DB_BACKENDS)}")
        return
    password = database.get("password")
    if password is not None and not isinstance(password, str):
        found.error("database:password", "must be a string (quote it in YAML)")
    elif isinstance(password, str) and _UNSAFE_CHAR_RE.search(password):
        found.error(
            "database:password",
            "contains a control character other than tab/newline, "
            "which cannot be written to application.conf safely",
        )
    _check_database_tls(config, database, found)
    _check_mysql_settings(database, found)
    count = _engine_count(config)
    if backend == "h2":
        if count > 1:
            found.error(
                "database:backend",
                f"h2 is a single-user database and cannot serve a "
                f"cluster of {count} engine nodes; use backend mysql",
            )
        return
    for key in ("minion", "hostname"):
        if not _is_nonempty_str(database.get(key)):
            found.error(f"database:{key}", "is required for backend mysql")
    hostname = database.get("hostname")
    if _is_nonempty_str(hostname) and not _is_valid_hostname(hostname):
        found.error("database:hostname", f"{hostname!r} is not a valid DNS name or IP address")
    if password in (None, ""):
        found.error("database:password", "is required for backend mysql")
    for key, limit in (("name", 64), ("user", 32)):
        value = database.get(key)
        if not isinstance(value, str) or not _MYSQL_IDENT_RE.fullmatch(value) or len(value) > limit:
            found.error(
                f"database:{key}",
                f"must be a MySQL identifier of letters, digits and "
                f"'_' with at most {limit} characters",
            )
    allowed = database.get("allowed_hosts")
    if allowed is not None and not isinstance(allowed, list):
        found.error(
            "database:allowed_hosts",
            "must be a list of host names, IPs or MySQL host patterns such as '10.0.0.%'",
        )
    else:
        _check_words(
            found,
            "database:allowed_hosts",
            allowed or [],
            _MYSQL_HOST_RE,
            "a host name, IP, IPv4 CIDR or MySQL host pattern such as '10.0.0.%'",
        )
        _check_account_hosts(database, found)


def _check_database_tls(config, database, found):
    """database:tls; the old database:ssl (encryption without verification) is refused."""
    if "ssl" in database:
        found.error(
            "database:ssl",
            "was replaced by layline:database:tls (verify-identity, the "
            "default: TLS with the server certificate and host name verified against the "
            "cluster CA; or disabled): remove ssl from the pillar",
        )
    mode = database.get("tls")
    if mode not in DB_TLS_MODES:
        found.error("database:tls", f"{mode!r} is not one of {', '.join(DB_TLS_MODES)}")
    elif (
        mode == "verify-identity"
        and database.get("backend") == "mysql"
        and not _tls_enabled(config)
    ):
        found.error(
            "database:tls",
            "verify-identity needs the cluster CA and node certificates "
            "(layline:tls:enabled is false): enable layline:tls or set database:tls: "
            "disabled",
        )


def _check_mysql_settings(database, found):
    """The MySQL role's settings: they reach my.cnf, package and service names."""
    for key in ("server_package", "client_package", "service"):
        if database.get(key) is not None:
            _check_words(
                found,
                f"database:{key}",
                database.get(key),
                _PACKAGE_RE,
                "a package or service name",
            )
    for key in ("server_config", "socket"):
        _check_path(found, f"database:{key}", database.get(key))
    bind_address = database.get("bind_address")
    if isinstance(bind_address, str) and not _is_valid_hostname(bind_address):
        found.error(
            "database:bind_address",
            f"{bind_address!r} is not an IP address or "
            "host name (0.0.0.0 listens on all interfaces)",
        )
    timeout = database.get("wait_timeout")
    if _is_int(timeout) and timeout < 0:
        found.error("database:wait_timeout", "must be a number of seconds >= 0")
    minion = database.get("minion")
    if isinstance(minion, str) and _UNSAFE_WORD_RE.search(minion):
        found.error("database:minion", "must not contain whitespace or control characters")
    _check_ip(found, "database:address", database.get("address"))


def _check_ip(found, key, value):
    """An ``address`` of a node entry: an IP literal of a machine (or null)."""
    if value in (None, ""):
        return
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        found.error(
            key, f"{value!r} is not an IP address (leave it out to use the hostname's address)"
        )
        return
    if address.is_unspecified or address.is_multicast:
        found.error(key, f"{value!r} is not the address of one machine")


def _is_ip_or_network(value):
    try:
        ipaddress.ip_network(value, strict=False)
        return True
    except ValueError:
        return False


def _check_account_hosts(database, found):
    """allowed_hosts against skip_name_resolve; '%' is legal but named as a risk."""
    skip = database.get("skip_name_resolve", True) is not False
    for index, host in enumerate(database.get("allowed_hosts") or []):
        key = f"database:allowed_hosts[{index}]"
        if not isinstance(host, str):
            continue
        if host == "%":
            found.warn(
                key,
                "'%' lets the layline account log in from any host that reaches "
                "the server: a leaked password is then usable from anywhere; list the "
                "clients' IPs or CIDRs instead",
            )
            continue
        if "/" in host:
            try:
                network = ipaddress.ip_network(host, strict=False)
            except ValueError:
                found.error(key, f"{host!r} is not an IP network such as 10.0.0.0/24")
                continue
            if network.version != 4:
                found.error(
                    key,
                    f"{host!r}: MariaDB/MySQL accept only IPv4 networks "
                    "(address/netmask); list the IPv6 addresses one by one",
                )
            continue
        is_pattern = "%" in host or "_" in host
        if skip and not is_pattern and not _is_ip_or_network(host):
            found.error(
                key,
                f"{host!r} is a host name, but layline:database:skip_name_resolve "
                "is on (the server never resolves client addresses to names): use an "
                "IP or CIDR, or set skip_name_resolve: false",
            )


def _check_network_and_firewall(config, found):
    """layline:network and layline:firewall (sources are IP addresses or networks)."""
    network = config.get("network")
    if network is not None and not isinstance(network, dict):
        found.error("network", "must be a mapping with bind_any")
    firewall = config.get("firewall")
    if firewall is None:
        return
    if not isinstance(firewall, dict):
        found.error(
            "firewall", "must be a mapping with enabled, browsers, clients, scrape, operators"
        )
        return
    for key in ("browsers", "clients", "scrape", "operators"):
        for index, value in enumerate(firewall.get(key) or []):
            if not isinstance(value, str) or not _is_ip_or_network(value):
                found.error(
                    f"firewall:{key}[{index}]",
                    f"{value!r} is not an IP address or network (CIDR such as 192.0.2.0/24)",
                )
    backend = firewall.get("backend")
    if backend is not None and backend not in ("nftables", "firewalld"):
        found.error("firewall:backend", f"{backend!r} is not one of nftables, firewalld")
    elif backend is None and firewall.get("enabled") is True and not _is_one_machine(config):
        found.error(
            "firewall:backend",
            "is not set for this OS family (layline/osfamilymap."
            "yaml knows Debian and RedHat): set nftables or firewalld, or "
            "layline:firewall:enabled: false",
        )
    for key in ("package", "service", "zone"):
        if firewall.get(key) is not None:
            _check_words(
                found,
                f"firewall:{key}",
                firewall.get(key),
                _PACKAGE_RE,
                "a package, service or zone name",
            )
    _check_path(found, "firewall:ruleset_file", firewall.get("ruleset_file"))


def _services_by_minion(config):
    """minion id -> [(pillar key of a port, port)] of the services that run on it."""
    ports = _section(config, "ports")
    engine_ports = [(f"ports:{key}", ports.get(key)) for key in ("rest", "cluster", "management")]
    if _metrics_enabled(config) and not _metrics_on_rest_port(config):
        engine_ports.append(("metrics:port", _section(config, "metrics").get("port")))
    config_server_port = [("ports:config_server", ports.get("config_server"))]
    database = _section(config, "database")
    services = {}
    if _is_single_host(config):
        services["<this minion>"] = engine_ports + config_server_port
    else:
        for node in _nodes(config):
            if isinstance(node, dict) and node.get("minion"):
                services.setdefault(node["minion"], []).extend(engine_ports)
        config_server_minion = _section(config, "config_server").get("minion")
        if config_server_minion:
            services.setdefault(config_server_minion, []).extend(config_server_port)
    if database.get("backend") == "mysql" and database.get("minion") in services:
        services[database["minion"]].append(("database:port", database.get("port")))
    monitoring = _section(config, "monitoring")
    if _monitoring_minion(config):
        # the monitoring ports come last: a clash names the monitoring key
        if database.get("backend") == "mysql" and database.get("minion"):
            on_database = services.setdefault(database["minion"], [])
            if ("database:port", database.get("port")) not in on_database:
                on_database.append(("database:port", database.get("port")))
            on_database.append(
                ("monitoring:node_exporter_port", monitoring.get("node_exporter_port"))
            )
        services.setdefault(monitoring["minion"], []).append(
            ("monitoring:port", monitoring.get("port"))
        )
    return services


def _check_ports(config, found):
    ports = config.get("ports")
    if not isinstance(ports, dict):
        found.error("ports", "must be a mapping with config_server, rest, cluster, management")
        return
    checked = [(f"ports:{key}", ports.get(key)) for key in KNOWN_KEYS["ports"]]
    if _section(config, "database").get("backend") == "mysql":
        checked.append(("database:port", _section(config, "database").get("port")))
    bad = set()
    for key, port in sorted(checked):
        if not _is_int(port) or not 1 <= port <= 65535:
            found.error(key, "must be an integer port between 1 and 65535")
            bad.add(key)
    reported = set()
    for minion, services in _services_by_minion(config).items():
        for index, (key, port) in enumerate(services):
            for other_key, other_port in services[index + 1 :]:
                pair = (key, other_key)
                if key in bad or other_key in bad or port != other_port or pair in reported:
                    continue
                reported.add(pair)
                found.error(
                    other_key,
                    f"port {port} clashes with layline:{key} on minion "
                    f"{minion}: services on one host need distinct ports",
                )


def _check_extra_config(config, found):
    extra = config.get("extra_config")
    if extra is None:
        return
    if not isinstance(extra, dict):
        found.error("extra_config", "must be a mapping with reactive_engine and config_server")
        return
    for role_key in RENDER_ROLES.values():
        value = extra.get(role_key)
        if value is None:
            continue
        if not isinstance(value, dict):
            found.error(f"extra_config:{role_key}", "must be a mapping of HOCON settings")
            continue
        try:
            expanded = _expand_keys(value, f"extra_config:{role_key}")
            _check_hocon_values(value, f"extra_config:{role_key}")
        except CommandExecutionError as exc:
            found.errors.append(str(exc))
            continue
        for path in _leaf_paths(expanded):
            owner = _owned_by_formula(role_key, path)
            if owner:
                owned, instead = owner
                found.error(
                    f"extra_config:{role_key}:{'.'.join(path)}",
                    f"{owned} is set by the formula: set {instead} instead",
                )


def _leaf_paths(data, prefix=()):
    """Paths of every non-mapping value (and of empty mappings) in nested ``data``."""
    for key, value in data.items():
        path = prefix + (key,)
        if isinstance(value, dict) and value:
            yield from _leaf_paths(value, path)
        else:
            yield path


def _owned_by_formula(role_key, path):
    """(owned HOCON path, advice) when ``path`` sets or replaces a formula-owned setting."""
    for (role, owned), instead in OWNED_PATHS.items():
        owned_path = tuple(owned.split("."))
        shorter = min(len(path), len(owned_path))
        if role == role_key and path[:shorter] == owned_path[:shorter]:
            return owned, instead
    return None


def _check_rolling(config, found):
    rolling = config.get("rolling")
    if rolling is None:
        return
    if not isinstance(rolling, dict):
        found.error(
            "rolling",
            "must be a mapping with all, max_unavailable, timeout, poll_interval,"
            " join_timeout, on_failure",
        )
        return
    if not isinstance(rolling.get("all", False), bool):
        found.error("rolling:all", "must be true or false")
    for key, low in (("max_unavailable", 1), ("timeout", 1), ("join_timeout", 0)):
        value = rolling.get(key)
        if value is not None and (not _is_int(value) or value < low):
            found.error(f"rolling:{key}", f"must be an integer >= {low}")
    if rolling.get("on_failure") not in (None, "rollback", "stop"):
        found.error("rolling:on_failure", "must be rollback or stop")
    interval = rolling.get("poll_interval")
    if interval is not None and (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or not 0.1 <= interval <= 60
    ):
        found.error("rolling:poll_interval", "must be a number of seconds between 0.1 and 60")


def _check_tls(config, found):
    tls = config.get("tls")
    if tls is None:
        return
    if not isinstance(tls, dict):
        found.error("tls", "must be a mapping with enabled, ca_minion, days, ...")
        return
    if not isinstance(tls.get("enabled", True), bool):
        found.error("tls:enabled", "must be true or false")
    ca_minion = tls.get("ca_minion")
    if ca_minion is not None and not _is_single_host(config):
        if not _is_nonempty_str(ca_minion) or _UNSAFE_WORD_RE.search(ca_minion):
            found.error("tls:ca_minion", "must be a minion id (no whitespace)")
        elif ca_minion not in _layline_minions(config):
            found.error(
                "tls:ca_minion",
                f"{ca_minion!r} has no layline role (database, "
                "config server or engine node): the CA lives on one of them",
            )
    for key, low in (("days", 1), ("renew_days", 1), ("ca_days", 1), ("wait_timeout", 0)):
        value = tls.get(key)
        if value is not None and (not _is_int(value) or value < low):
            found.error(f"tls:{key}", f"must be an integer >= {low}")
    days, renew, ca_days = (
        value if _is_int(value) and value >= 1 else None
        for value in (tls.get("days"), tls.get("renew_days"), tls.get("ca_days"))
    )
    if _is_int(days) and _is_int(renew) and renew >= days:
        found.error(
            "tls:renew_days",
            f"{renew} is not less than layline:tls:days ({days}): "
            "every apply would issue a new certificate",
        )
    if _is_int(days) and _is_int(ca_days) and ca_days <= days:
        found.error(
            "tls:ca_days",
            f"{ca_days} is not more than layline:tls:days ({days}): "
            "node certificates must expire before the CA does",
        )
    key_size = tls.get("key_size")
    if key_size is not None and key_size not in TLS_KEY_SIZES:
        found.error(
            "tls:key_size",
            f"{key_size!r} is not one of "
            f"{', '.join(map(str, TLS_KEY_SIZES))} (RSA bits; Pekko reads no EC keys)",
        )
    policy = tls.get("signing_policy")
    if policy is not None and (
        not isinstance(policy, str) or not _CLUSTER_NAME_RE.fullmatch(policy)
    ):
        found.error("tls:signing_policy", "must be a name of letters, digits, '_', '.', '-'")


def _layline_minions(config):
    """Minion ids with a layline role in a multi-node model."""
    minions = {node.get("minion") for node in _nodes(config) if isinstance(node, dict)}
    minions.add(_section(config, "config_server").get("minion"))
    database = _section(config, "database")
    if database.get("backend") == "mysql":
        minions.add(database.get("minion"))
    return {minion for minion in minions if _is_nonempty_str(minion)}


def _check_backup(config, found):
    """The backup timer's settings: they reach a unit file and the backup script's argv."""
    backup = config.get("backup")
    if not isinstance(backup, dict):
        return
    calendar = backup.get("on_calendar")
    if isinstance(calendar, str) and not _CALENDAR_RE.fullmatch(calendar):
        found.error(
            "backup:on_calendar",
            "must be a systemd calendar expression such as 'daily' or '*-*-* 02:30:00' (one line)",
        )
    keep = backup.get("keep")
    if _is_int(keep) and keep < 1:
        found.error("backup:keep", "must be an integer >= 1 (the number of newest backups kept)")
    _check_path(found, "backup:dir", backup.get("dir"), own_directory=True)
    _check_path(found, "backup:textfile_dir", backup.get("textfile_dir"), own_directory=True)
    home = config.get("home")
    for key in ("dir", "textfile_dir"):
        value = backup.get(key)
        if _is_inside(value, home) or _is_inside(home, value):
            found.error(
                f"backup:{key}",
                f"{value!r} overlaps layline:home {home!r}: root "
                "writes there, so it must be outside the service user's home",
            )
    if isinstance(backup.get("dir"), str) and backup.get("dir") == backup.get("textfile_dir"):
        found.error(
            "backup:textfile_dir",
            "must differ from layline:backup:dir (the backups "
            "stay private to root, the exporter reads the textfile directory)",
        )
    restore = _section(config, "restore").get("file")
    if isinstance(restore, str) and (not restore.strip() or _UNSAFE_PATH_RE.search(restore)):
        found.error(
            "restore:file",
            "must be a backup file name as `layline_db.backups` "
            "lists it, or its absolute path, without whitespace or quotes",
        )


# Prometheus durations (promtool accepts the same): 30s, 1m30s, 1h, 1d
_PROM_DURATION_RE = re.compile(r"^(?:[0-9]+(?:ms|s|m|h|d|w|y))+$")
_PROM_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_URL_PATH_RE = re.compile(r"^/[A-Za-z0-9._~/-]*$")
# systemd OnCalendar shorthands of layline:backup:on_calendar -> their period in seconds
BACKUP_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 604800, "monthly": 2678400}
# slack on top of the backup period before a backup counts as late (timer accuracy, dump time)
BACKUP_SLACK = 3600
BACKUP_TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"


def _prom_seconds(duration):
    """Seconds of a Prometheus duration such as ``1h30m`` (validated beforehand)."""
    return sum(
        int(number) * _PROM_UNITS[unit]
        for number, unit in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", duration)
    )


def _metrics_enabled(config):
    return _section(config, "metrics").get("enabled") is True


def _metrics_on_rest_port(config):
    """metrics.port = ports.rest: layline's documented endpoint, the REST server's
    /engine/prometheus (Prometheus extension asset); nothing to render, no port of its own."""
    return _section(config, "metrics").get("port") == _section(config, "ports").get("rest")


def _monitoring_minion(config):
    minion = _section(config, "monitoring").get("minion")
    return minion if _is_nonempty_str(minion) else None


def _backup_watched(config):
    """True when the monitoring role alerts on backups: MySQL backend with backups on
    (``layline:backup`` belongs to the backup feature; read with defaults)."""
    database = _section(config, "database")
    return (
        database.get("backend") == "mysql"
        and bool(database.get("minion"))
        and _section(config, "backup").get("enabled", True) is not False
    )


def _backup_max_age(config):
    """(seconds, pillar key to blame) a backup may be old before it counts as late."""
    explicit = _section(config, "monitoring").get("backup_max_age")
    if explicit is not None:
        return _prom_seconds(explicit), "monitoring:backup_max_age"
    schedule = _section(config, "backup").get("on_calendar", "daily")
    period = BACKUP_PERIODS.get(str(schedule).strip().lower())
    return (None if period is None else period + BACKUP_SLACK), "backup:on_calendar"


def _check_metrics(config, found):
    metrics = config.get("metrics")
    if metrics is None:
        return
    if not isinstance(metrics, dict):
        found.error("metrics", "must be a mapping with enabled and port")
        return
    port = metrics.get("port")
    if not _is_int(port) or not 1 <= port <= 65535:
        found.error("metrics:port", "must be an integer port between 1 and 65535")


def _check_monitoring(config, found):
    monitoring = config.get("monitoring")
    if not isinstance(monitoring, dict) or not monitoring.get("minion"):
        return
    minion = monitoring.get("minion")
    if not _is_nonempty_str(minion) or _UNSAFE_WORD_RE.search(minion):
        found.error("monitoring:minion", "must be a minion id without whitespace")
    hostname = monitoring.get("hostname")
    if not _is_nonempty_str(hostname):
        found.error("monitoring:hostname", "is required when layline:monitoring:minion is set")
    elif not _is_valid_hostname(hostname):
        found.error("monitoring:hostname", f"{hostname!r} is not a valid DNS name or IP address")
    address = monitoring.get("address")
    if address is not None:
        try:
            if ipaddress.ip_address(address).is_loopback:
                found.error(
                    "monitoring:address",
                    f"{address!r} is a loopback address: give "
                    "the address the engines see the monitoring minion at",
                )
        except ValueError:
            found.error("monitoring:address", f"{address!r} is not an IP address")
    if _is_single_host(config):
        found.error(
            "monitoring:minion",
            "needs layline:cluster:nodes: the single-host default "
            "binds every layline port to 127.0.0.1, out of Prometheus' reach",
        )
    textfile_dir = _section(config, "backup").get("textfile_dir")
    if textfile_dir is not None:
        _check_path(found, "backup:textfile_dir", textfile_dir)
    if not _metrics_enabled(config):
        found.error(
            "metrics:enabled",
            "must be true when layline:monitoring:minion is set: "
            "the monitoring role scrapes the engines' metrics port",
        )
    for key in ("port", "node_exporter_port"):
        port = monitoring.get(key)
        if not _is_int(port) or not 1 <= port <= 65535:
            found.error(f"monitoring:{key}", "must be an integer port between 1 and 65535")
    path = monitoring.get("metrics_path")
    if not isinstance(path, str) or not _URL_PATH_RE.fullmatch(path):
        found.error("monitoring:metrics_path", "must be a URL path such as /metrics")
    durations = [
        ("monitoring:scrape_interval", monitoring.get("scrape_interval")),
        ("monitoring:backup_max_age", monitoring.get("backup_max_age") or "1s"),
    ]
    alerts = monitoring.get("alerts") if isinstance(monitoring.get("alerts"), dict) else {}
    durations += [(f"monitoring:alerts:{key}", alerts.get(key)) for key in ALERT_KEYS]
    for key, value in durations:
        if (
            not isinstance(value, str)
            or not _PROM_DURATION_RE.fullmatch(value)
            or _prom_seconds(value) == 0
        ):
            found.error(key, f"{value!r} is not a Prometheus duration such as 15s, 1m or 1h30m")
    if _backup_watched(config) and "monitoring:backup_max_age" not in found.failed:
        seconds, key = _backup_max_age(config)
        if seconds is None:
            found.error(
                "monitoring:backup_max_age",
                "is required: layline:backup:on_calendar "
                f"is not one of {', '.join(BACKUP_PERIODS)}, so the backup alert "
                "cannot tell how old a backup may be",
            )


def _scrape_host(node):
    """Where Prometheus reaches a node: its canonical address, else its hostname."""
    return node.get("address") or node.get("hostname")


def _monitoring_model(config):
    """What the monitoring role builds (see :py:func:`monitoring`); None when it is off."""
    monitoring = _section(config, "monitoring")
    minion = _monitoring_minion(config)
    if minion is None:
        return None
    database = _section(config, "database")
    metrics_port = _section(config, "metrics").get("port")
    engines = [
        {"minion": node.get("minion"), "target": f"{_url_host(_scrape_host(node))}:{metrics_port}"}
        for node in _nodes(config)
        if isinstance(node, dict)
    ]
    node_exporter = None
    if database.get("backend") == "mysql" and database.get("minion"):
        node_exporter = {
            "minion": database["minion"],
            "target": f"{_url_host(_scrape_host(database))}:{monitoring.get('node_exporter_port')}",
        }
    backup = None
    if _backup_watched(config):
        seconds, _key = _backup_max_age(config)
        backup = {
            "max_age_seconds": int(seconds),
            "textfile_dir": _section(config, "backup").get("textfile_dir") or BACKUP_TEXTFILE_DIR,
        }
    return {
        "minion": minion,
        "port": monitoring.get("port"),
        "scrape_interval": monitoring.get("scrape_interval"),
        "metrics_path": monitoring.get("metrics_path"),
        "cluster": _section(config, "cluster").get("name"),
        "engines": engines,
        "configured_members": len(engines),
        "node_exporter": node_exporter,
        "textfile_dir": _section(config, "backup").get("textfile_dir") or BACKUP_TEXTFILE_DIR,
        "backup": backup,
        "alerts": {key: _section(monitoring, "alerts").get(key) for key in ALERT_KEYS},
    }


def _installs_layline(config, minion_id):
    if minion_id is None:
        return True
    try:
        return bool({"engine", "config-server"} & set(_roles_for(config, minion_id)))
    except (TypeError, AttributeError):
        return True


def _validate(config, minion_id=None, installing=True):
    """
    Pure validation: returns (errors, warnings) for a merged config dict.

    ``distribution:source``/``source_hash`` are required unless ``minion_id`` is
    given and the minion installs nothing (database-only machine), or
    ``installing`` is False (the clean SLS files).
    """
    found = _Findings()
    if not isinstance(config, dict):
        found.errors.append("layline: the configuration must be a mapping")
        return found.errors, found.warnings
    _check_unknown_keys(config, found)
    _check_types(config, found)
    _check_version_and_distribution(
        config, found, installing and _installs_layline(config, minion_id)
    )
    _check_paths_and_account(config, found)
    _check_python(config, found)
    nodes = _check_nodes(config, found)
    _check_cluster_settings(config, found)
    _check_config_server(config, found, nodes)
    _check_database(config, found)
    _check_ports(config, found)
    _check_extra_config(config, found)
    _check_rolling(config, found)
    _check_network_and_firewall(config, found)
    _check_tls(config, found)
    _check_backup(config, found)
    _check_metrics(config, found)
    _check_monitoring(config, found)
    return found.errors, found.warnings


# ---------------------------------------------------------------------------
# rendering (pure): data model, extra_config merge, HOCON serializer
# ---------------------------------------------------------------------------


def _split_key(key, where):
    """A pillar key -> list of HOCON path segments (see module docstring)."""
    if not isinstance(key, str):
        raise CommandExecutionError(f"layline:{where}: key {key!r} must be a string")
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        segments = [key[1:-1]]
    else:
        segments = key.split(".")
    for segment in segments:
        if segment == "" or '"' in segment or "\\" in segment or _CONTROL_CHAR_RE.search(segment):
            raise CommandExecutionError(
                f"layline:{where}:{key}: invalid key: path segments must be non-empty and "
                "contain no double quote, backslash or control character"
            )
    return segments


def _expand_keys(data, where):
    """Turn dotted keys of a pillar mapping into nested dicts (deep, order kept)."""
    result = {}
    for key, value in data.items():
        segments = _split_key(key, where)
        child_where = f"{where}:{key}"
        if isinstance(value, dict):
            value = _expand_keys(value, child_where)
        nested = value
        for segment in reversed(segments[1:]):
            nested = {segment: nested}
        _deep_merge(result, {segments[0]: nested})
    return result


def _deep_merge(base, override):
    """Merge ``override`` into ``base`` in place: mappings recurse, everything else replaces."""
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _check_hocon_values(data, where):
    if isinstance(data, dict):
        for key, value in data.items():
            _check_hocon_values(value, f"{where}:{key}")
    elif isinstance(data, (list, tuple)):
        for index, value in enumerate(data):
            _check_hocon_values(value, f"{where}[{index}]")
    elif isinstance(data, str):
        if _UNSAFE_CHAR_RE.search(data):
            raise CommandExecutionError(
                f"layline:{where}: contains a control character other than tab/newline, "
                "which cannot be written to application.conf safely"
            )
    elif isinstance(data, float):
        if not math.isfinite(data):
            raise CommandExecutionError(f"layline:{where}: must be a finite number")
    elif data is not None and not isinstance(data, (bool, int)):
        raise CommandExecutionError(
            f"layline:{where}: unsupported value type {type(data).__name__} "
            "(use strings, numbers, booleans, lists or mappings; quote dates)"
        )


def tls_paths(config=None):
    """
    Where the TLS files of this minion are (``layline.tls``): the directory, the cluster CA
    (``ca``, also as ``ca_cert``), this node's certificate and key (``cert``, ``key``) and
    the JDBC truststore holding the CA (``truststore``, made by ``layline.config.truststore``).

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline.tls_paths
    """
    config = _load_config() if config is None else config
    paths = _tls_paths(config)
    return {
        **paths,
        "ca": paths["ca_cert"],
        "truststore": f"{paths['dir']}/{layline_schema.TRUSTSTORE_NAME}",
    }


def db_tls(config=None):
    """
    True when the MySQL connections use verified TLS (``layline:database:tls`` is
    ``verify-identity`` and the backend is mysql).

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline.db_tls
    """
    config = _load_config() if config is None else config
    database = _section(config, "database")
    return database.get("backend") == "mysql" and database.get("tls") == "verify-identity"


def _jdbc_tls_params(config):
    """Connector/J (8.0.x) TLS properties: the server certificate is checked against the cluster
    CA in the truststore and must name the host of the URL; no RSA key retrieval."""
    if not db_tls(config):
        return "sslMode=DISABLED"
    return (
        f"sslMode=VERIFY_IDENTITY&trustCertificateKeyStoreUrl=file:{tls_paths(config)['truststore']}"
        f"&trustCertificateKeyStoreType=JKS&trustCertificateKeyStorePassword={layline_schema.TRUSTSTORE_PASSWORD}"
    )


def _persistence_data(config, role):
    """pekko.persistence, jdbc-* and pekko-persistence-jdbc settings for one role."""
    database = _section(config, "database")
    backend = database.get("backend")
    if backend not in DB_BACKENDS:
        raise CommandExecutionError(
            f"layline:database:backend: {backend!r} is not one of {', '.join(DB_BACKENDS)}"
        )
    shared_db = SHARED_DB_NAME[backend]
    if backend == "mysql":
        url = (
            f"jdbc:mysql://{_url_host(database.get('hostname'))}:{database.get('port')}/"
            f"{database.get('name')}?{_jdbc_tls_params(config)}&serverTimezone=UTC&useUnicode=true"
            f"&characterEncoding=UTF-8&rewriteBatchedStatements=true&{MYSQL_GUIDE_PARAMS}"
        )
        profile, driver = "slick.jdbc.MySQLProfile$", MYSQL_DRIVER
    else:
        role_dir = "reactive-engine" if role == "reactive-engine" else "config-server"
        home = str(config.get("home", "")).rstrip("/")
        url = f"jdbc:h2:file:{home}/.layline/{role_dir}/database/h2/journal;DATABASE_TO_UPPER=false"
        profile, driver = "slick.jdbc.H2Profile$", H2_DRIVER
    db = {
        "url": url,
        "user": database.get("user"),
        "password": database.get("password") or "",
        "driver": driver,
        **POOL,
    }
    return {
        "pekko": {
            "persistence": {
                "journal": {"plugin": "jdbc-journal"},
                "snapshot-store": {"plugin": "jdbc-snapshot-store"},
            }
        },
        "jdbc-journal": {"use-shared-db": shared_db},
        "jdbc-read-journal": {"use-shared-db": shared_db},
        "jdbc-snapshot-store": {"use-shared-db": shared_db},
        "pekko-persistence-jdbc": {"shared-databases": {shared_db: {"profile": profile, "db": db}}},
    }


def _split_brain_resolver_data(config):
    sbr = _section(_section(config, "cluster"), "split_brain_resolver")
    strategy = sbr.get("strategy")
    data = {"active-strategy": strategy, "stable-after": sbr.get("stable_after")}
    if strategy == "static-quorum":
        data["static-quorum"] = {"quorum-size": sbr.get("quorum_size")}
    return data


def _tls_paths(config):
    tls_dir = f"{str(config.get('config_dir', '')).rstrip('/')}/tls"
    return {
        "dir": tls_dir,
        "ca_cert": f"{tls_dir}/ca.crt",
        "cert": f"{tls_dir}/node.crt",
        "key": f"{tls_dir}/node.key",
    }


def _tls_enabled(config):
    return _section(config, "tls").get("enabled", True) is not False


def _tls_names(config, minion_id, roles_):
    """Subject names of this minion's certificate: its role hostnames and pillar addresses."""
    entries = []
    if "engine" in roles_:
        entries.append(_this_engine_node(config, minion_id) or {})
    if "config-server" in roles_:
        entries.append(
            _section(config, "config_server")
            if not _is_single_host(config)
            else {"hostname": layline_schema.LOOPBACK}
        )
    if "database" in roles_:
        entries.append(_section(config, "database"))
    names = []
    for entry in entries:
        for field in ("hostname", "address"):
            value = entry.get(field)
            if _is_nonempty_str(value) and value.lower() not in [n.lower() for n in names]:
                names.append(value)
    return names


def _san(names):
    """x509 subjectAltName text: IP literals as IP, everything else as DNS."""
    parts = []
    for name in names:
        try:
            parts.append(f"IP:{ipaddress.ip_address(name)}")
        except ValueError:
            parts.append(f"DNS:{name}")
    return ", ".join(parts)


def _tls_plan(config, minion_id):
    """What layline.tls manages on ``minion_id`` (see :py:func:`tls_plan`)."""
    roles_ = _roles_for(config, minion_id)
    if not roles_ or not _tls_enabled(config):
        return {"enabled": False}
    tls = _section(config, "tls")
    config_dir = str(config.get("config_dir", "")).rstrip("/")
    runs_layline = bool({"config-server", "engine"} & set(roles_))
    if _is_single_host(config):
        ca_minion = minion_id
    else:
        ca_minion = tls.get("ca_minion") or _section(config, "config_server").get("minion")
    names = _tls_names(config, minion_id, roles_)
    cluster_name = _section(config, "cluster").get("name")
    # Pekko's RotatingKeysSSLEngineProvider accepts a peer only when its certificate shares
    # a subject name with its own: every engine carries the cluster's name as CN, and only
    # engines do (the config server's or database's certificate cannot join the cluster).
    common_name = f"layline-{cluster_name}-engine" if "engine" in roles_ else names[0]
    return {
        "enabled": True,
        **_tls_paths(config),
        "config_dir": config_dir,
        "group": config.get("group") if runs_layline else MYSQL_GROUP,
        "ca_minion": ca_minion,
        "is_ca": ca_minion == minion_id,
        # the CA minion signs other minions' certificates (peer + signing policy needed)
        "signs_for_others": ca_minion == minion_id
        and not _is_single_host(config)
        and bool(_layline_minions(config) - {minion_id}),
        "ca_dir": f"{config_dir}/ca",
        "ca_key": f"{config_dir}/ca/ca.key",
        "ca_cn": f"layline {cluster_name} cluster CA",
        "common_name": common_name,
        "names": names,
        "subject_alt_name": _san(names),
        "days": tls.get("days"),
        "renew_days": tls.get("renew_days"),
        "ca_days": tls.get("ca_days"),
        "key_size": tls.get("key_size"),
        # this minion's own policy on the CA minion (layline_signing: one per minion)
        "signing_prefix": tls.get("signing_policy"),
        "signing_policy": layline_signing.policy_name(minion_id, tls.get("signing_policy")),
        # on the CA minion: the minions whose certificates it signs (one policy each)
        "signed_minions": sorted(_layline_minions(config) - {minion_id})
        if ca_minion == minion_id and not _is_single_host(config)
        else [],
        "wait_timeout": tls.get("wait_timeout"),
    }


def _artery_tls_data(config):
    """The remote transport: mutual TLS with the node's PEM files, else plain tcp."""
    if not _tls_enabled(config):
        return {"transport": "tcp"}
    paths = _tls_paths(config)
    return {
        "transport": "tls-tcp",
        "ssl": {
            "ssl-engine-provider": ROTATING_KEYS_PROVIDER,
            "rotating-keys-engine": {
                "key-file": paths["key"],
                "cert-file": paths["cert"],
                "ca-cert-file": paths["ca_cert"],
            },
        },
    }


def _engine_data(config, minion_id):
    node = _this_engine_node(config, minion_id)
    if node is None:
        raise CommandExecutionError(
            f"minion {minion_id!r} is not listed in layline:cluster:nodes: the reactive-engine "
            "configuration is rendered only for engine nodes"
        )
    hostname = node.get("hostname")
    if not _is_nonempty_str(hostname):
        raise CommandExecutionError(f"layline:cluster:nodes: minion {minion_id!r} has no hostname")
    ports = _section(config, "ports")
    bind = _bind_for(config, _engine_key(config, minion_id), minion_id)
    cluster = _section(config, "cluster")
    data = {
        "layline": {
            "reactive-engine": {
                "rest-server": {
                    "canonical": {"hostname": hostname},
                    "bind": {"hostname": bind, "port": ports.get("rest")},
                }
            }
        },
        "pekko": {
            "actor": {"provider": "cluster"},
            "remote": {
                "artery": {
                    "enabled": True,
                    **_artery_tls_data(config),
                    "canonical": {"hostname": hostname, "port": ports.get("cluster")},
                    "bind": {"hostname": bind, "port": ports.get("cluster")},
                }
            },
            "cluster": {
                "seed-nodes": _seed_nodes(config, minion_id),
                "min-nr-of-members": cluster.get("min_nr_of_members", 1),
                "downing-provider-class": SBR_PROVIDER,
                "split-brain-resolver": _split_brain_resolver_data(config),
                # downed (split-brain resolver): run coordinated shutdown ...
                "run-coordinated-shutdown-when-down": True,
            },
            # ... and exit the JVM (Pekko's exit code -1 = 255 on downing, 143 on SIGTERM):
            # a downed member that keeps running is no member and never rejoins; the unit
            # (Restart=on-failure) starts a new incarnation that rejoins through the seeds
            "coordinated-shutdown": {"exit-jvm": True},
            "management": {
                "http": {
                    "hostname": hostname,
                    "port": ports.get("management"),
                    "bind-hostname": bind,
                    "bind-port": ports.get("management"),
                    "route-providers-read-only": True,
                }
            },
        },
    }
    metrics = _section(config, "metrics")
    if metrics.get("enabled") is True and not _metrics_on_rest_port(config):
        # the block of layline's Multi-Node Cluster Setup guide (production notes)
        data["layline"]["reactive-engine"]["metrics"] = {
            "enabled": True,
            "port": metrics.get("port"),
        }
    return _deep_merge(data, _persistence_data(config, "reactive-engine"))


def _config_server_data(config, minion_id):
    if "config-server" not in _roles_for(config, minion_id):
        raise CommandExecutionError(
            f"minion {minion_id!r} is not layline:config_server:minion: the config-server "
            "configuration is rendered only for the config server"
        )
    data = {
        "layline": {
            "config-server": {
                "rest-server": {
                    "canonical": {"hostname": _config_server_hostname(config)},
                    "bind": {
                        "hostname": _bind_for(config, "config_server", minion_id),
                        "port": _section(config, "ports").get("config_server"),
                    },
                }
            }
        }
    }
    return _deep_merge(data, _persistence_data(config, "config-server"))


def _build_data(role, config, minion_id):
    """application.conf data of ``role`` for ``minion_id``, extra_config merged in."""
    if role not in RENDER_ROLES:
        raise CommandExecutionError(
            f"unknown role {role!r}: use one of {', '.join(sorted(RENDER_ROLES))}"
        )
    builder = _engine_data if role == "reactive-engine" else _config_server_data
    data = builder(config, minion_id)
    extra = _section(config, "extra_config").get(RENDER_ROLES[role]) or {}
    if not isinstance(extra, dict):
        raise CommandExecutionError(f"layline:extra_config:{RENDER_ROLES[role]}: must be a mapping")
    where = f"extra_config:{RENDER_ROLES[role]}"
    _deep_merge(data, _expand_keys(extra, where))
    _check_hocon_values(data, where)
    return data


def _hocon_key(key):
    if _BARE_KEY_RE.fullmatch(key) and key.lower() not in _HOCON_RESERVED:
        return key
    return json.dumps(key, ensure_ascii=False)


def _hocon_scalar(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _hocon_lines(data, indent):
    pad = "  " * indent
    lines = []
    for key, value in data.items():
        name = _hocon_key(key)
        if isinstance(value, dict):
            if not value:
                lines.append(f"{pad}{name} {{}}")
                continue
            lines.append(f"{pad}{name} {{")
            lines.extend(_hocon_lines(value, indent + 1))
            lines.append(f"{pad}}}")
        else:
            lines.append(f"{pad}{name} = {_hocon_value(value, indent)}")
    return lines


def _hocon_value(value, indent):
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = _hocon_lines(value, indent + 1)
        return "{\n" + "\n".join(inner) + "\n" + "  " * indent + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        pad = "  " * (indent + 1)
        items = [pad + _hocon_value(item, indent + 1) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    return _hocon_scalar(value)


def _to_hocon(data):
    """Serialize nested dicts/lists/scalars to HOCON text (strings always JSON-quoted)."""
    return HEADER + "\n".join(_hocon_lines(data, 0)) + "\n"


def _plain(value):
    """pyhocon result -> plain dicts and lists."""
    if hasattr(value, "as_plain_ordered_dict"):  # a pyhocon ConfigTree
        # as_plain_ordered_dict strips the quotes pyhocon keeps around keys with dots
        value = value.as_plain_ordered_dict()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if type(value).__name__ == "NoneValue":
        return None
    return value


def _same(left, right):
    """Structural equality that does not confuse True with 1 or 1 with 1.0."""
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(map(_same, left, right))
    return type(left) is type(right) and left == right


def _verified_hocon(data):
    text = _to_hocon(data)
    try:
        parsed = _plain(_config_factory().parse_string(text, resolve=False))
    except CommandExecutionError:
        raise
    except Exception as exc:  # pyhocon raises pyparsing and its own exception types
        raise CommandExecutionError(
            f"rendered application.conf does not parse as HOCON ({type(exc).__name__}); "
            "check layline:extra_config for unusual keys"
        ) from None
    if not _same(parsed, data):
        raise CommandExecutionError(
            "rendered application.conf does not read back as the intended settings; check "
            "layline:extra_config for keys that clash with each other or unusual characters"
        )
    return text


# ---------------------------------------------------------------------------
# systemd unit values (pure)
# ---------------------------------------------------------------------------

SYSTEMD_KINDS = ("word", "assignment", "plain")


def _systemd_quote(value, kind="word"):
    """
    ``value`` written safely into a unit file (see systemd.syntax(7), systemd.service(5)).

    - ``word``: one argument of a command line or an item of a list setting
      (``ExecStart=``, ``ReadWritePaths=``): double-quoted, ``\\`` and ``"`` escaped,
      ``%`` -> ``%%`` (specifiers), ``$`` -> ``$$`` (environment expansion)
    - ``assignment``: a whole ``Environment=`` assignment: double-quoted, ``%`` -> ``%%``
    - ``plain``: a setting that takes no quotes (``User=``, ``WorkingDirectory=``):
      ``%`` -> ``%%``; quotes, backslashes and whitespace are refused

    Control characters (a newline would start a new directive) are always refused.
    """
    if kind not in SYSTEMD_KINDS:
        raise CommandExecutionError(
            f"systemd quoting kind {kind!r} is not one of {', '.join(SYSTEMD_KINDS)}"
        )
    text = str(value)
    if _CONTROL_CHAR_RE.search(text) or "\x7f" in text:
        raise CommandExecutionError(
            f"{text!r} contains a control character and cannot be written to a systemd unit"
        )
    escaped = text.replace("%", "%%")
    if kind == "plain":
        if re.search(r"[\s\"'\\]", text):
            raise CommandExecutionError(
                f"{text!r} contains whitespace, a quote or a backslash "
                "and cannot be written to this systemd setting"
            )
        return escaped
    escaped = escaped.replace("\\", "\\\\").replace('"', '\\"')
    if kind == "word":
        escaped = escaped.replace("$", "$$")
    return f'"{escaped}"'


# ---------------------------------------------------------------------------
# network helpers
# ---------------------------------------------------------------------------


def _http_get(url, timeout, decode_json=True):
    """GET ``url`` via salt.utils.http; returns (status, decoded body or None, error or None)."""
    opts = dict(__opts__)
    opts.update(http_connect_timeout=timeout, http_request_timeout=timeout)
    try:
        result = salt.utils.http.query(
            url,
            method="GET",
            decode=decode_json,
            decode_type="json",
            status=True,
            opts=opts,
            backend="tornado",
        )
    except ValueError:
        return 200, None, f"{url} did not answer with JSON"
    status = result.get("status", 0)
    if result.get("error"):
        return status, None, result["error"]
    return status, result.get("dict") if decode_json else result.get("body"), None


def _tcp_reachable(host, port, timeout):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, None
    except OSError as exc:
        return False, str(exc) or type(exc).__name__


def _normalise_address(address):
    return str(address).strip().lower()


def _fetch_members(config, minion_id, timeout):
    """Ask each engine's management endpoint in seed order: (hostname, body) or (None, None)."""
    port = _section(config, "ports").get("management")
    for node in _engine_nodes(config, minion_id):
        status, body, _error = _http_get(
            f"http://{_url_host(_node_host(node))}:{port}/cluster/members", timeout
        )
        if status == 200 and isinstance(body, dict):
            return node["hostname"], body
    return None, None


# ---------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------


def mapdata():
    """
    Return the merged formula configuration as ``layline/map.jinja`` builds it
    (``defaults.yaml``, the os_family entry of ``osfamilymap.yaml``, pillar
    ``layline``), with secrets masked as ``******``.

    CLI Example:

    .. code-block:: bash

        salt '*' layline.mapdata
    """
    config = _load_config()
    return _redact(_mask_secrets(config), config)


def systemd_quote(value, kind="word"):
    """
    Return ``value`` quoted for a systemd unit file; the unit template of the
    formula writes every pillar value through it.

    kind
        ``word`` (default: a command-line argument or list item, double-quoted),
        ``assignment`` (an ``Environment=`` assignment) or ``plain`` (``User=``,
        ``WorkingDirectory=``: specifiers escaped, quotes and whitespace refused)

    Raises CommandExecutionError for control characters (a newline would add a
    directive to the unit).

    CLI Example:

    .. code-block:: bash

        salt '*' layline.systemd_quote '/opt/layline/bin/reactive-engine'
    """
    return _systemd_quote(value, kind)


def roles(config=None, minion_id=None):
    """
    Return the layline roles of a minion, a sublist of
    ``['database', 'config-server', 'engine', 'monitoring']``.

    ``engine`` when listed in ``layline:cluster:nodes``, ``config-server`` when
    it is ``layline:config_server:minion``, ``database`` when it is
    ``layline:database:minion`` and the backend is mysql, ``monitoring`` when it
    is ``layline:monitoring:minion`` (Prometheus). With no nodes and no config
    server minion the minion is config server and engine (single host).

    config
        merged formula config (default: built from defaults and pillar)

    minion_id
        minion to ask about (default: this minion)

    CLI Example:

    .. code-block:: bash

        salt '*' layline.roles
    """
    return _roles_for(_config(config), _minion_id(minion_id))


def monitoring(config=None):
    """
    Return what the monitoring role builds, or None when ``layline:monitoring:minion``
    is not set: the Prometheus minion and port, the scrape interval and metrics
    path, one scrape target per engine (``<address or hostname>:<metrics port>``),
    the node exporter on the database minion, the configured member count, the
    ``for`` duration of each alert and the backup age limit (seconds; None when
    backups are not watched). ``layline_monitoring`` builds prometheus.yml and the
    alert rules from it.

    config
        merged formula config (default: built from defaults and pillar)

    CLI Example:

    .. code-block:: bash

        salt '*' layline.monitoring
    """
    return _monitoring_model(_config(config))


def is_multi_node(config=None):
    """
    Return True when the cluster has more than one engine node (engines then
    restart one at a time instead of on every change).

    CLI Example:

    .. code-block:: bash

        salt '*' layline.is_multi_node
    """
    return _engine_count(_config(config)) > 1


def seed_gate(config=None, minion_id=None):
    """
    Return the start gate of the first seed node's engine unit as
    ``{'check': argv, 'record': argv}`` (``ExecStartPre=`` / ``ExecStopPost=``),
    or ``{}`` on every other minion and on a single engine.

    ``record`` remembers that the engine ended in failure (downed by the
    split-brain resolver: exit 255; killed); ``check`` then holds the restart
    back until another seed node answers on its cluster port, so that the first
    seed never forms a cluster of its own (an island) while the others are cut
    off. A clean stop clears the record: a cold start is never held back.

    CLI Example:

    .. code-block:: bash

        salt 'll-node-1' layline.seed_gate
    """
    return _seed_gate(_config(config), _minion_id(minion_id))


def address(key=None, config=None, minion_id=None):
    """
    Return the canonical address of a machine entry, resolved on this minion:
    its ``address`` (an IP literal) when the pillar gives one, else the first
    address (IPv4 preferred) its ``hostname`` resolves to (getaddrinfo:
    /etc/hosts, DNS). A loopback result is an error naming the key when the
    roles run on more than one machine (set ``address`` then).

    key
        ``cluster:nodes[N]``, ``config_server``, ``database`` or ``monitoring``;
        default: this minion's own entry (its engine entry first). In the
        single-host default (no nodes) the engine and config server are
        ``127.0.0.1``.

    CLI Example:

    .. code-block:: bash

        salt '*' layline.address
        salt 'll-config-server' layline.address 'cluster:nodes[1]'
    """
    config = _config(config)
    minion_id = _minion_id(minion_id)
    if key is None:
        key = _engine_key(config, minion_id) or _own_key(config, minion_id)
    return _address(config, key, minion_id)


def bind_address(key=None, config=None, minion_id=None):
    """
    Return the address the listeners of a machine entry bind: ``0.0.0.0``
    when ``layline:network:bind_any`` is true, ``127.0.0.1`` for the engine and
    config server of the single-host default, else :py:func:`address`.
    For ``database`` an explicit ``layline:database:bind_address`` wins.

    CLI Example:

    .. code-block:: bash

        salt 'll-mysql' layline.bind_address database
    """
    config = _config(config)
    minion_id = _minion_id(minion_id)
    if key == "database" and _section(config, "database").get("bind_address"):
        return str(_section(config, "database")["bind_address"])
    if key is None:
        key = _engine_key(config, minion_id) or _own_key(config, minion_id)
    return _bind_for(config, key, minion_id)


def validate(config=None):
    """
    Check the whole configuration at once and return
    ``{'errors': [...], 'warnings': [...]}``; never raises for invalid
    settings. Every message starts with the pillar key it is about and never
    contains a secret value. Exits non-zero when there are errors. On the CA
    minion it also checks its ``x509_signing_policies`` (``layline_tls.signing_problems``).

    CLI Example:

    .. code-block:: bash

        salt '*' layline.validate
    """
    errors, warnings = _validate(_config(config), _minion_id())
    if not errors and "layline_tls.signing_problems" in __salt__:
        # on the CA minion: its pillar's signing policies, one per minion, every field fixed
        errors = __salt__["layline_tls.signing_problems"](config=config)
    _set_retcode(errors)
    return {"errors": errors, "warnings": warnings}


def render(role, config=None, minion_id=None):
    """
    Return the text of ``application.conf`` for ``role`` on this minion, with
    secrets masked as ``******`` (the state writes the real text; it is never
    returned to the CLI, the job cache or the event bus).

    role
        ``reactive-engine`` or ``config-server``

    The text is parsed back with pyhocon and compared with the intended
    settings before it is returned. An invalid model (see :py:func:`validate`)
    is refused with every error.

    CLI Example:

    .. code-block:: bash

        salt 'll-node-1' layline.render reactive-engine
    """
    config = _config(config)
    text = _render_text(role, _mask_secrets(config), _minion_id(minion_id))
    return _redact(text, config)


def _render_text(role, config, minion_id):
    """
    The real ``application.conf`` text (with the password): only the state
    ``layline.config_managed`` calls it, on the minion. Refuses an invalid model.
    """
    errors, _warnings = _validate(config, minion_id)
    if errors:
        raise CommandExecutionError(
            f"refusing to render the {role} configuration of an invalid model "
            f"({len(errors)} error(s)):\n- " + "\n- ".join(errors)
        )
    return _verified_hocon(_build_data(role, config, minion_id))


def render_data(role, config=None, minion_id=None):
    """
    Return the settings :py:func:`render` writes for ``role`` as a nested dict,
    with secrets masked (for debugging).

    CLI Example:

    .. code-block:: bash

        salt 'll-node-1' layline.render_data reactive-engine
    """
    config = _config(config)
    return _redact(_mask_secrets(_build_data(role, config, _minion_id(minion_id))), config)


def tls_plan(config=None, minion_id=None):
    """
    Return what ``layline.tls`` manages on this minion: ``{'enabled': False}`` when
    ``layline:tls:enabled`` is false or the minion has no layline role, else the file
    paths (``dir``, ``ca_cert``, ``cert``, ``key``; ``ca_dir``, ``ca_key`` on the CA
    minion), the ``group`` that may read the key (the service group, ``mysql`` on a
    database-only minion), ``ca_minion`` and ``is_ca``, the certificate's
    ``common_name`` and ``subject_alt_name`` (the minion's role hostnames and pillar
    addresses) and the ``layline:tls`` settings.

    CLI Example:

    .. code-block:: bash

        salt '*' layline.tls_plan
    """
    return _tls_plan(_config(config), _minion_id(minion_id))


_TRANSPORT_RE = re.compile(r'^\s*transport = "([A-Za-z0-9-]+)"$', re.MULTILINE)
# a restart marker reason with this prefix makes the rolling restart refuse (Pekko: nodes
# with different remote transports cannot talk, so no rolling restart can change it)


def transport_change(config=None):
    """
    Return the restart reason ``'full cluster restart needed: Artery transport
    <old> -> <new> ...'`` when the engine's deployed application.conf runs another
    Artery transport (``tcp`` / ``tls-tcp``) than ``layline:tls`` now renders, else
    ``''`` (also when nothing is deployed yet). Pekko members with different
    transports cannot talk: the rolling restart refuses a marker with this reason.

    CLI Example:

    .. code-block:: bash

        salt 'll-node-*' layline.transport_change
    """
    config = _config(config)
    path = f"{str(config.get('config_dir', '')).rstrip('/')}/reactive-engine/application.conf"
    try:
        with open(path, encoding="utf-8") as handle:
            found = _TRANSPORT_RE.search(handle.read())
    except OSError:
        return ""
    new = _artery_tls_data(config)["transport"]
    if not found or found.group(1) == new:
        return ""
    return (
        f"{layline_schema.FULL_RESTART}: Artery transport {found.group(1)} -> {new} (members with "
        "different transports cannot talk)"
    )


def members(host=None, port=None, config=None, timeout=5):
    """
    Return the parsed ``/cluster/members`` answer of Pekko Management.

    host
        default: this minion's engine hostname from ``layline:cluster:nodes``

    port
        default: ``layline:ports:management``

    CLI Example:

    .. code-block:: bash

        salt 'll-node-1' layline.members
        salt 'll-config-server' layline.members host=ll-node-2.orb.local
    """
    host, port = _management_endpoint(host, port, config)
    url = f"http://{_url_host(host)}:{port}/cluster/members"
    status, body, error = _http_get(url, timeout)
    if status != 200 or not isinstance(body, dict):
        raise CommandExecutionError(
            f"cannot read {url}: {error or f'HTTP {status}'}; is layline-reactive-engine "
            "running there and layline:ports:management right?"
        )
    return body


def ready(host=None, port=None, config=None, timeout=5):
    """
    Return True when Pekko Management's ``/ready`` answers 200 (the member is
    Up or WeaklyUp and its journal works), else False.

    CLI Example:

    .. code-block:: bash

        salt 'll-node-1' layline.ready
    """
    host, port = _management_endpoint(host, port, config)
    status, _body, _error = _http_get(
        f"http://{_url_host(host)}:{port}/ready", timeout, decode_json=False
    )
    return status == 200


def _management_endpoint(host, port, config):
    if host is None or port is None:
        config = _config(config)
    if host is None:
        node = _this_engine_node(config, _minion_id())
        if node is None:
            raise CommandExecutionError(
                "this minion is not an engine node: pass host=<engine hostname>"
            )
        # where the listener is bound: the node's address, else its hostname (which
        # resolves to it); never localhost, which the listeners no longer bind
        host = _node_host(node)
    if port is None:
        port = _section(config, "ports").get("management")
    return host, port


def _address_host(address):
    """Host of a Pekko address ``pekko://system@host:port`` (IPv6 without brackets), or None."""
    match = re.match(r"^[a-z]+://[^@/]+@(\[[^\]]+\]|[^:/]+):\d+", str(address or ""))
    return match.group(1).strip("[]") if match else None


def _status_row(
    node, hostname, rest_port, timeout, unreachable, in_pillar, member_state=None, host=None
):
    url = f"http://{_url_host(host or hostname)}:{rest_port}/engine/status"
    code, body, _error = _http_get(url, timeout)
    answered = code == 200 and isinstance(body, dict)
    return {
        "node": node,
        "hostname": hostname,
        "state": body.get("state") if answered else (member_state or "Unreachable"),
        "version": body.get("version") if answered else None,
        "uptime": body.get("uptime") if answered else None,
        "unreachable": not answered or unreachable,
        "in_pillar": in_pillar,
    }


def status(config=None, timeout=5):
    """
    Return one row per engine, like the Cluster page of the layline UI:
    ``{node, hostname, state, version, uptime, unreachable, in_pillar}``.

    The configured nodes come first, in seed order; then every live member of
    the cluster (``/cluster/members``) that ``layline:cluster:nodes`` does not
    list, with ``node`` None and ``in_pillar`` False (a removed node still
    running, or a stranger), so the table never hides a member.

    ``state`` comes from the node's REST ``/engine/status`` (``Unreachable``
    when it does not answer), ``version`` is the release the node runs,
    ``uptime`` is in seconds, ``unreachable`` is True when the node does not
    answer or the cluster lists it unreachable. Exits non-zero when a row is
    not ``Up`` or is unreachable.

    CLI Example:

    .. code-block:: bash

        salt 'll-config-server' layline.status
    """
    config = _config(config)
    minion_id = _minion_id()
    ports = _section(config, "ports")
    _seen_from, cluster_view = _fetch_members(config, minion_id, timeout)
    flagged = {
        _normalise_address(entry.get("node"))
        for entry in (cluster_view or {}).get("unreachable", [])
        if isinstance(entry, dict)
    }
    rows, known = [], set()
    for node in _engine_nodes(config, minion_id):
        address = _normalise_address(_seed_address(node["hostname"], ports.get("cluster")))
        known.add(address)
        rows.append(
            _status_row(
                node.get("minion"),
                node["hostname"],
                ports.get("rest"),
                timeout,
                address in flagged,
                True,
                host=_node_host(node),
            )
        )
    for member in (cluster_view or {}).get("members", []):
        if not isinstance(member, dict):
            continue
        address = _normalise_address(member.get("node"))
        host = _address_host(member.get("node"))
        if address in known or host is None:
            continue
        known.add(address)
        rows.append(
            _status_row(
                None,
                host,
                ports.get("rest"),
                timeout,
                address in flagged,
                False,
                member.get("status"),
            )
        )
    _set_retcode(any(row["state"] != "Up" or row["unreachable"] for row in rows))
    return rows


def cluster_health(config=None, timeout=5):
    """
    Return ``{'healthy', 'expected', 'up', 'missing', 'unreachable',
    'comment'}``: healthy when every configured node's address is Up and no
    member is unreachable, as seen by the first engine (in seed order) whose
    management endpoint answers. Exits non-zero when not healthy.

    CLI Example:

    .. code-block:: bash

        salt 'll-config-server' layline.cluster_health
    """
    config = _config(config)
    expected = _seed_nodes(config, _minion_id())
    seen_from, view = _fetch_members(config, _minion_id(), timeout)
    result = {
        "healthy": False,
        "expected": expected,
        "up": [],
        "missing": list(expected),
        "unreachable": [],
        "comment": "",
    }
    if view is None:
        port = _section(config, "ports").get("management")
        result["comment"] = (
            f"no engine node answered on its management port {port} "
            "(layline:ports:management); are the reactive engines running?"
        )
        _set_retcode(True)
        return result
    result["up"] = [
        entry.get("node")
        for entry in view.get("members", [])
        if isinstance(entry, dict) and entry.get("status") == "Up"
    ]
    result["unreachable"] = [
        entry.get("node") for entry in view.get("unreachable", []) if isinstance(entry, dict)
    ]
    up = {_normalise_address(address) for address in result["up"]}
    result["missing"] = [address for address in expected if _normalise_address(address) not in up]
    result["healthy"] = not result["missing"] and not result["unreachable"]
    if result["healthy"]:
        result["comment"] = f"all {len(expected)} node(s) Up (seen from {seen_from})"
    else:
        problems = []
        if result["missing"]:
            problems.append(f"not Up: {', '.join(result['missing'])}")
        if result["unreachable"]:
            problems.append(f"unreachable: {', '.join(result['unreachable'])}")
        result["comment"] = f"cluster not healthy (seen from {seen_from}): " + "; ".join(problems)
    _set_retcode(not result["healthy"])
    return result


def _check_row(check, target, result, detail="", fix=""):
    return {"check": check, "target": target, "result": result, "detail": detail, "fix": fix}


def _diagnose_resolution(config, minion_id):
    hosts = [node.get("hostname") for node in _engine_nodes(config, minion_id)]
    hosts.append(_config_server_hostname(config))
    database = _section(config, "database")
    if database.get("backend") == "mysql":
        hosts.append(database.get("hostname"))
    rows = []
    for host in dict.fromkeys(h for h in hosts if _is_nonempty_str(h)):
        try:
            addresses = sorted({info[4][0] for info in socket.getaddrinfo(host, None)})
            rows.append(_check_row("hostname resolves", host, "ok", ", ".join(addresses)))
        except (OSError, UnicodeError) as exc:
            rows.append(
                _check_row(
                    "hostname resolves",
                    host,
                    "failed",
                    str(exc),
                    f"add '<address> {host}' to /etc/hosts on every machine or fix DNS",
                )
            )
    return rows


def _diagnose_addresses(config, minion_id):
    rows = []
    for key, entry in _node_entries(config):
        try:
            found = _resolve_entry(config, key, entry, minion_id)
            rows.append(_check_row("canonical address", f"layline:{key}", "ok", found))
        except CommandExecutionError as exc:
            rows.append(
                _check_row(
                    "canonical address",
                    f"layline:{key}",
                    "failed",
                    str(exc),
                    f"set layline:{key}:address or fix DNS / /etc/hosts",
                )
            )
    return rows


def _diagnose_seed_nodes(config, minion_id):
    expected = _seed_nodes(config, minion_id)
    rows = []
    try:
        rendered = _build_data("reactive-engine", config, minion_id)
    except CommandExecutionError as exc:
        return [
            _check_row(
                "seed nodes match canonical hostnames",
                "rendered config",
                "failed",
                str(exc),
                "fix the configuration named in the detail",
            )
        ]
    sources = [("rendered config", rendered)]
    deployed = os.path.join(
        str(config.get("config_dir", "")), "reactive-engine", "application.conf"
    )
    if os.path.isfile(deployed):
        factory = _config_factory()
        try:
            sources.append((deployed, _plain(factory.parse_file(deployed, resolve=False))))
        except Exception as exc:  # any parse problem is the finding itself
            rows.append(
                _check_row(
                    "seed nodes match canonical hostnames",
                    deployed,
                    "failed",
                    f"cannot parse: {type(exc).__name__}",
                    "re-apply the layline state to rewrite the file",
                )
            )
    for where, data in sources:
        seeds = _dig_hocon(data, "pekko.cluster.seed-nodes")
        canonical = _dig_hocon(data, "pekko.remote.artery.canonical.hostname")
        cluster_port = _section(config, "ports").get("cluster")
        own = _seed_address(canonical, cluster_port) if canonical else None
        if seeds == expected and own in expected:
            rows.append(
                _check_row(
                    "seed nodes match canonical hostnames",
                    where,
                    "ok",
                    f"{len(expected)} seed node(s) in pillar order",
                )
            )
        else:
            rows.append(
                _check_row(
                    "seed nodes match canonical hostnames",
                    where,
                    "failed",
                    f"seed-nodes {seeds} / canonical {own!r} differ from {expected}",
                    "remove seed-nodes/canonical overrides from layline:extra_config and "
                    "re-apply the layline state",
                )
            )
    return rows


def _dig_hocon(data, dotted):
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _diagnose_ports(check, targets, timeout, fix):
    rows = []
    for label, host, port in targets:
        ok, error = _tcp_reachable(host, port, timeout)
        target = f"{label} ({_url_host(host)}:{port})"
        result = "ok" if ok else "failed"
        rows.append(_check_row(check, target, result, error or "", "" if ok else fix))
    return rows


def _diagnose_database(config, timeout):
    database = _section(config, "database")
    target = (
        f"{database.get('user')}@{database.get('hostname')}:{database.get('port')}/"
        f"{database.get('name')}"
    )
    rows = _diagnose_ports(
        "database port reachable",
        [("mysql", database.get("hostname"), database.get("port"))],
        timeout,
        "check that MySQL runs, listens on the database's canonical address "
        "(layline:database:bind_address) and its firewall accepts this machine",
    )
    if "layline_db.check_connection" not in __salt__:
        rows.append(
            _check_row(
                "database login", target, "skipped", "execution module layline_db is not available"
            )
        )
        return rows
    ok, message = __salt__["layline_db.check_connection"](config)
    rows.append(
        _check_row(
            "database login",
            target,
            "ok" if ok else "failed",
            _redact(message, config),
            ""
            if ok
            else "check layline:database:user/password and that the user's host "
            "pattern (layline:database:allowed_hosts) covers this machine",
        )
    )
    if not ok or "layline_db.missing_tables" not in __salt__:
        rows.append(
            _check_row(
                "database tables present",
                target,
                "skipped",
                "needs a working database login and layline_db.missing_tables",
            )
        )
        return rows
    missing = __salt__["layline_db.missing_tables"](config)
    rows.append(
        _check_row(
            "database tables present",
            target,
            "failed" if missing else "ok",
            f"missing: {', '.join(missing)}" if missing else "all tables present",
            "apply the layline database schema state (scripts/sql/mysql/persistence-schema.sql)"
            if missing
            else "",
        )
    )
    return rows


_UNIT_PROPS = ("ActiveState", "SubState", "Result", "NRestarts", "ExecMainStatus")
_MEMBERSHIP = "member of the cluster"


def _engine_unit_state():
    """systemd's properties of the engine unit, or None when they cannot be read."""
    if "cmd.run_all" not in __salt__:
        return None
    args = ["systemctl", "show", layline_schema.ENGINE_UNIT]
    for prop in _UNIT_PROPS:
        args += ["-p", prop]
    ret = __salt__["cmd.run_all"](args, python_shell=False, ignore_retcode=True)
    if ret.get("retcode") != 0:
        return None
    return dict(line.split("=", 1) for line in ret.get("stdout", "").splitlines() if "=" in line)


def _live_nodes(view):
    """Addresses of the members of a ``/cluster/members`` view that still count."""
    return sorted(
        _normalise_address(m.get("node"))
        for m in view.get("members", [])
        if isinstance(m, dict) and m.get("status") not in ("Down", "Removed")
    )


def _unit_finding(unit, target, gated, marker):
    """A row when the engine unit is not running (None when it runs)."""
    engine_unit = layline_schema.ENGINE_UNIT
    active, sub = unit.get("ActiveState"), unit.get("SubState")
    if active == "active":
        return None
    restarts = unit.get("NRestarts", "?")
    if unit.get("Result") == "start-limit-hit":
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            f"{engine_unit} hit its start limit: systemd gave up restarting it "
            f"({restarts} restarts)",
            f"systemctl reset-failed {engine_unit}; systemctl start {engine_unit}; re-apply "
            "the layline state (the formula's unit has no start limit)",
        )
    if gated and active == "activating":  # in its ExecStartPre or waiting to try again
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            "first seed node held back by the seed gate: it ended in failure (downed in a "
            "partition?) and no other seed node answers on its cluster port, so it does not "
            f"form a cluster of its own ({restarts} restarts so far)",
            "restore the network between the engines (layline:ports:cluster); it starts and "
            f"rejoins by itself. Only to start a new cluster from this node alone: rm {marker}",
        )
    if active == "activating" and sub != "auto-restart":
        return None  # starting
    if active == "activating":
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            f"{engine_unit} ended and systemd restarts it ({restarts} restarts so far)",
            f"journalctl -u {engine_unit}: see why it ends (exit 255 = downed by the "
            "split-brain resolver); it rejoins by itself once it stays up",
        )
    if unit.get("ExecMainStatus") == "255":
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            f"downed by the split-brain resolver (exit 255) and {engine_unit} did not restart it",
            f"systemctl start {engine_unit}; re-apply the layline state so that the unit "
            "restarts a downed engine (Restart=on-failure)",
        )
    return _check_row(
        _MEMBERSHIP,
        target,
        "failed",
        f"{engine_unit} is {active} ({sub})",
        f"systemctl start {engine_unit} (a node that should leave the cluster for good is "
        "removed from layline:cluster:nodes and decommissioned)",
    )


def _membership_finding(target, own_address, unit, own_view, others, gated=False, marker=""):
    """
    Why this engine is (not) a member of the one cluster: a ``_check_row``.

    ``unit``: systemd properties of the engine unit (None: unknown); ``own_view``: this
    engine's ``/cluster/members`` (None: no answer); ``others``: {minion: view or None} of
    the other engines; ``gated``: the seed gate's failure record exists.
    """
    engine_unit = layline_schema.ENGINE_UNIT
    own = _normalise_address(own_address)
    finding = _unit_finding(unit, target, gated, marker) if unit else None
    if finding:
        return finding
    silent = sorted(minion for minion, view in others.items() if view is None)
    if own_view is None:
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            f"{engine_unit} runs but its management endpoint does not answer: still starting, "
            "or its actor system ended after it was downed while the JVM lives on (a process "
            "that is no member; pekko.coordinated-shutdown.exit-jvm off)",
            f"see the engine log; systemctl restart {engine_unit}; re-apply the layline state "
            "(it renders exit-jvm = on so that a downed engine exits and is restarted)",
        )
    mine = {
        _normalise_address(m.get("node")): m.get("status")
        for m in own_view.get("members", [])
        if isinstance(m, dict)
    }
    status = mine.get(own)
    if status is None:
        detail = "not joined yet: it keeps asking the seed nodes"
        if silent:
            detail += f"; not answering: {', '.join(silent)}"
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            detail,
            "check the network and the cluster port (layline:ports:cluster) between the "
            "engines and the engine log (an incompatible configuration is refused); it joins "
            "by itself once a seed node answers",
        )
    if status in ("Down", "Removed", "Exiting", "Leaving"):
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            f"this member is {status}",
            f"a downed engine exits and its unit restarts it; if it stays {status}: "
            f"systemctl restart {engine_unit}",
        )
    for minion, view in sorted(others.items()):
        if view is None or own in _live_nodes(view):
            continue
        theirs, ours = (
            _live_nodes(view),
            sorted(a for a, st in mine.items() if st not in ("Down", "Removed")),
        )
        if set(theirs) & set(ours):
            continue  # a view in flux (the other node is still joining or leaving)
        smaller = "this node's" if len(ours) <= len(theirs) else f"{minion}'s"
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            f"two clusters: this node is in {ours} (leader {own_view.get('leader')}), "
            f"{minion} is in {theirs} (leader {view.get('leader')}); an island that never "
            "merges back (a first seed node that joined itself while cut off)",
            f"restart the engines of the smaller cluster ({smaller}): systemctl restart "
            f"{engine_unit} there; they join the other cluster through the seed nodes",
        )
    unreachable = sorted(
        _normalise_address(u.get("node"))
        for u in own_view.get("unreachable", [])
        if isinstance(u, dict)
    )
    if unreachable:
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            f"{status}, but unreachable: {', '.join(unreachable)}",
            "check the network to them; the split-brain resolver downs one side after "
            "stable_after, and a downed engine is restarted and rejoins by itself",
        )
    if status != "Up":
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            f"this member is {status}",
            "the leader moves it Up once min_nr_of_members are present and none is unreachable",
        )
    return _check_row(
        _MEMBERSHIP,
        target,
        "ok",
        f"Up in a cluster of {len(mine)} (leader {own_view.get('leader')})",
    )


def _diagnose_membership(config, minion_id, timeout):
    ports = _section(config, "ports")
    node = _this_engine_node(config, minion_id)
    nodes = _engine_nodes(config, minion_id)
    own_address = _seed_nodes(config, minion_id)[nodes.index(node)]  # its cluster address

    def view_of(hostname):
        url = f"http://{_url_host(hostname)}:{ports.get('management')}/cluster/members"
        code, body, _error = _http_get(url, timeout)
        return body if code == 200 and isinstance(body, dict) else None

    others = {
        n.get("minion"): view_of(n.get("hostname"))
        for n in _engine_nodes(config, minion_id)
        if n.get("minion") != minion_id
    }
    gate = _seed_gate(config, minion_id)
    marker = _seed_gate_marker(config)
    gated = bool(gate) and os.path.exists(marker)
    return [
        _membership_finding(
            f"{minion_id} ({own_address})",
            own_address,
            _engine_unit_state(),
            view_of(node.get("hostname")),
            others,
            gated,
            marker,
        )
    ]


def diagnose(config=None, timeout=2):
    """
    Run the troubleshooting checks of layline's multi-node guide for this
    minion's roles and return ``{'ok': bool, 'checks': [...]}``; each check is
    ``{check, target, result: ok|failed|skipped, detail, fix}``. Failed checks
    do not raise; they make the exit code non-zero.

    - all hostnames (nodes, config server, database) resolve
    - engine: seed nodes equal the canonical hostnames (rendered and deployed
      config); the cluster port of every other node is reachable; this engine is
      a member of the one cluster - if not, why: its unit stopped, failed (exit
      255: downed and not restarted) or hit its start limit, the first seed node
      waits at the seed gate, it runs but is no member, it cannot reach the
      seeds, or it is Up in another cluster than the other engines (an island)
    - engine / config server with mysql: database reachable, login works,
      tables present (via ``layline_db`` when available, else skipped)
    - config server: every engine's REST port is reachable

    CLI Example:

    .. code-block:: bash

        salt -G 'roles:*' layline.diagnose
    """
    config = _config(config)
    minion_id = _minion_id()
    my_roles = _roles_for(config, minion_id)
    ports = _section(config, "ports")
    checks = _diagnose_resolution(config, minion_id) + _diagnose_addresses(config, minion_id)
    others = [n for n in _engine_nodes(config, minion_id) if n.get("minion") != minion_id]
    if "engine" in my_roles:
        checks += _diagnose_seed_nodes(config, minion_id)
        checks += _diagnose_ports(
            "cluster port reachable",
            [(n.get("minion"), n.get("hostname"), ports.get("cluster")) for n in others],
            timeout,
            "start layline-reactive-engine there and allow the cluster port "
            "(layline:ports:cluster) between all engine nodes in the firewall",
        )
        checks += _diagnose_membership(config, minion_id, timeout)
    if "config-server" in my_roles:
        checks += _diagnose_ports(
            "engine REST port reachable",
            [
                (n.get("minion"), n.get("hostname"), ports.get("rest"))
                for n in _engine_nodes(config, minion_id)
            ],
            timeout,
            "start layline-reactive-engine there and allow the REST port "
            "(layline:ports:rest) from the config server",
        )
    uses_mysql = _section(config, "database").get("backend") == "mysql"
    if uses_mysql and {"engine", "config-server"} & set(my_roles):
        checks += _diagnose_database(config, timeout)
    ok = all(row["result"] != "failed" for row in checks)
    _set_retcode(not ok)
    return {"ok": ok, "checks": checks}


# ---------------------------------------------------------------------------
# Salt's own Python: the libraries layline.python installs
# ---------------------------------------------------------------------------

_REQUIREMENT_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)$")


def _requirement_pins(text):
    """``[(name, version)]`` of a pinned requirements file; options and hashes are skipped."""
    pins = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = _REQUIREMENT_RE.match(line.split()[0])
        if not match:
            raise CommandExecutionError(
                f"requirements line {line.split()[0]!r} is not pinned as NAME==VERSION "
                "(layline:python:requirements)"
            )
        pins.append((match.group(1), match.group(2)))
    return pins


def _installed_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _read_requirements(requirements):
    """Text of a local requirements file, or of a salt:// / http(s):// one (via the master)."""
    if re.match(r"^(salt|https?)://", str(requirements)):
        text = __salt__["cp.get_file_str"](requirements)
        if text is False or text is None:
            raise CommandExecutionError(
                f"cannot fetch {requirements} (layline:python:requirements)"
            )
        return text
    try:
        with open(requirements, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise CommandExecutionError(f"cannot read {requirements}: {exc.strerror}") from None


def python_missing(requirements):
    """
    Return the pinned requirements in the file ``requirements`` (a local path
    or a ``salt://`` / ``https://`` URL) that Salt's own Python does not have at
    exactly that version, as ``NAME==VERSION (installed: X)`` strings; an empty
    list when all are installed.

    Checked in-process from the installed packages' metadata: no pip call.

    CLI Example:

    .. code-block:: bash

        salt '*' layline.python_missing /var/lib/layline-formula/python-requirements.txt
    """
    text = _read_requirements(requirements)
    missing = []
    for name, version in _requirement_pins(text):
        installed = _installed_version(name)
        if installed != version:
            missing.append(f"{name}=={version} (installed: {installed or 'none'})")
    return missing


def python_ready(requirements):
    """
    Return True when Salt's own Python has every pinned requirement in the file
    ``requirements`` (the in-process ``unless`` check of the ``layline.python``
    state); False also when the file is not there yet (a first run with
    ``test=True``).

    CLI Example:

    .. code-block:: bash

        salt '*' layline.python_ready /var/lib/layline-formula/python-requirements.txt
        salt '*' layline.python_ready salt://layline/python/files/requirements.txt
    """
    if "://" not in str(requirements) and not os.path.isfile(requirements):
        return False
    return not python_missing(requirements)


def version_installed(install_dir, version):
    """
    Return True when ``<install_dir>/VERSION`` (written by the installer)
    holds exactly ``version`` (the in-process ``unless`` check of the
    installer state; a missing file is False).

    CLI Example:

    .. code-block:: bash

        salt '*' layline.version_installed /opt/layline 2.5.4
    """
    try:
        with open(os.path.join(str(install_dir), "VERSION"), encoding="utf-8") as fh:
            return fh.read().strip() == str(version)
    except OSError:
        return False


# ---------------------------------------------------------------------------
# restart markers (written by the state layline.restart_pending, cleared by the
# rolling restart runner once the node passed its health gate)
# ---------------------------------------------------------------------------


def pending():
    """
    Return this minion's pending restarts: ``{unit: {"reasons": [...],
    "version": ..., "written": ...}}`` from the root-owned markers in
    ``/var/lib/layline-formula/pending/<unit>.json`` (empty when none).

    CLI Example:

    .. code-block:: bash

        salt 'node*' layline.pending
    """
    return layline_files.list_markers(layline_schema.PENDING_DIR)


def clear_pending(unit):
    """
    Remove the restart marker of ``unit`` (the rolling restart does this after
    the node passed its health gate). Returns True when a marker was removed.

    CLI Example:

    .. code-block:: bash

        salt 'node1' layline.clear_pending layline-reactive-engine
    """
    return layline_files.clear_marker(layline_files.marker_path(unit, layline_schema.PENDING_DIR))


def _retired_units(config, minion_id, installed_units):
    """Units installed here whose role the pillar no longer gives this minion (multi-node only)."""
    if _is_single_host(config):
        return []
    roles = _roles_for(config, minion_id)
    return [
        unit
        for role, unit in layline_schema.UNITS.items()
        if unit in installed_units and role not in roles
    ]


def retired_units(config=None, unit_dir="/etc/systemd/system"):
    """
    Return the layline units installed on this minion that its pillar no longer
    gives it a role for: a node removed from ``layline:cluster:nodes`` (or a
    former ``layline:config_server:minion``) of a multi-node pillar. Always empty
    with the single-host default (an empty pillar gives every minion both roles).
    ``state.apply layline`` decommissions them (``layline.decommission``).

    CLI Example:

    .. code-block:: bash

        salt '*' layline.retired_units
    """
    installed = [
        unit
        for unit in layline_schema.UNITS.values()
        if os.path.isfile(os.path.join(unit_dir, f"{unit}.service"))
    ]
    return _retired_units(_config(config), _minion_id(), installed)
