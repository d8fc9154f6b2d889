"""
Constants of the layline formula shared by its execution, state and runner modules.

One place for names that more than one module needs: systemd unit names, the restart
marker directory, Pekko's timing facts, and the pillar's schema (known keys, types,
formats, the settings the formula owns) that ``layline_validate`` checks against. Pure
Python: the Salt loader puts the synced ``_utils`` directory on ``sys.path`` while it loads
modules, so they ``import layline_schema``.
"""

import re

# The interface version of the utils: the execution module refuses to load (so
# layline/synced.jinja says "not synced") when the synced copy is older than it expects.
API_VERSION = 6

# Pekko's actor system name: member addresses are pekko://layline@host:port
SYSTEM_NAME = "layline"
LOOPBACK = "127.0.0.1"
ANY_ADDRESS = "0.0.0.0"

# the first line of every file the formula renders from data (application.conf, prometheus.yml)
HEADER = "# Managed by Salt (layline-formula). Do not edit by hand.\n"

# what a secret looks like in a return, a message or a log line
MASK = "******"
# the __context__ key of the cached model (execution and state modules of one run share it)
CONTEXT_KEY = "layline.model"

# the roles a minion can have, in the order layline.roles lists them
ROLE_ORDER = ("database", "config-server", "engine", "monitoring")

ENGINE_UNIT = "layline-reactive-engine"
CONFIG_SERVER_UNIT = "layline-config-server"
# role -> systemd unit of that role
UNITS = {"engine": ENGINE_UNIT, "config-server": CONFIG_SERVER_UNIT}

# the first seed node's start gate (layline/service/files/seed-gate.sh): an engine that ended
# in failure (downed, killed) does not form a cluster of its own while no other seed answers;
# the marker is relative to the service user's home
SEED_GATE = "/usr/local/lib/layline-formula/seed-gate"
SEED_GATE_MARKER = ".layline/reactive-engine/ended-in-failure"

# restart markers: written by the state layline.restart_pending, cleared by the rolling
# restart once the node passed its health gate (root-owned, outside every service path)
PENDING_DIR = "/var/lib/layline-formula/pending"

# The JDBC truststore only holds the public CA certificate; its password guards nothing but the
# file's checksum (the file is root-owned), so it is a fixed, documented value (Java's default).
TRUSTSTORE_NAME = "truststore.jks"
TRUSTSTORE_PASSWORD = "changeit"  # noqa: S105 - public by design, see README (TLS)

# Worst case of a graceful leave with Pekko's default coordinated-shutdown phase timeouts
# (most phases 5 s, three 10 s): a unit's stop timeout must be above it.
GRACEFUL_LEAVE_WORST_CASE = 75

# layline:rolling:on_failure: what the rolling restart does when a node fails its gate
ON_FAILURE = ("rollback", "stop")

# the reason the rolling runner gives when only a full-cluster restart is safe
FULL_RESTART = "full cluster restart needed"


# ---------------------------------------------------------------------------
# the pillar's schema: known keys, types, formats, formula-owned settings
# ---------------------------------------------------------------------------

SUPPORTED_STRATEGIES = ("keep-majority", "static-quorum", "keep-oldest", "down-all")

# render role -> key under layline:extra_config
RENDER_ROLES = {"reactive-engine": "reactive_engine", "config-server": "config_server"}

DB_BACKENDS = ("h2", "mysql")

# layline:database:tls: verify-identity (TLS, server certificate from the cluster CA, host name
# checked) or disabled (plain TCP); the key replaces the old database:ssl
DB_TLS_MODES = ("verify-identity", "disabled")

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

HEX_DIGEST_LENGTHS = {"sha256": 64, "sha512": 128}

# source_hash: a literal digest or a file the master serves (authenticated by Salt itself)
HASH_URL_RE = re.compile(r"salt://[^\s\x00-\x1f\x7f]+")

# source: https only with a literal digest (checked below); http and ftp are unauthenticated
SOURCE_URL_RE = re.compile(r"(salt|https|file)://[^\s\x00-\x1f\x7f]+")

ACCOUNT_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,30}[a-z0-9_$-]?$")

CLUSTER_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")

VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]*$")

DNS_LABEL_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")

MYSQL_IDENT_RE = re.compile(r"^[A-Za-z0-9_]+$")

DURATION_RE = re.compile(
    r"\d+(\.\d+)? ?(ns|nanos?|nanoseconds?|us|micros?|microseconds?|ms|millis?|"
    r"milliseconds?|s|seconds?|m|minutes?|h|hours?|d|days?)"
)

# C0 controls that pyhocon cannot read back from an escaped string (it knows \t \n \r only)
UNSAFE_CHAR_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

# keys: pyhocon does not unescape quoted keys, so no control character at all
CONTROL_CHAR_RE = re.compile(r"[\x00-\x1f]")

# values that reach a path, a command line or a unit: no whitespace, no control character
UNSAFE_WORD_RE = re.compile(r"[\s\x00-\x1f\x7f]")

# paths are also written quoted (my.cnf, units): no quote or backslash either
UNSAFE_PATH_RE = re.compile(r"[\s\x00-\x1f\x7f\"'\\]")

# systemd calendar expressions (systemd.time(7)): written to OnCalendar= as they are
CALENDAR_RE = re.compile(r"[A-Za-z0-9*][A-Za-z0-9 ,.:*/~+-]{0,199}")

PACKAGE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_:@~-]*")

MYSQL_HOST_RE = re.compile(r"[A-Za-z0-9.%_:/-]{1,255}")

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

# home, install_dir, config_dir and distribution:cache_dir: an allowlist of prefixes (the
# path must lie strictly below one) ...
PATH_PREFIXES = ("/opt", "/srv", "/home", "/var/lib", "/var/cache", "/var/opt")
# ... or be one of the formula's own trees or below it (the defaults /etc/layline and the
# installer's documented /usr/local/layline)
PATH_OWN_TREES = ("/etc/layline", "/usr/local/layline")

# trees that root, the formula, MariaDB, Salt or systemd rely on: one of these paths, anything
# inside one and any ancestor of one is refused for the paths above (the formula chowns the
# home to the service user and names each of them in ReadWritePaths= or deletes them on clean)
PROTECTED_TREES = (
    "/etc/systemd",
    "/lib/systemd",
    "/usr/lib/systemd",
    "/run",
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/local/lib/layline-formula",
    "/etc/cron.d",
    "/etc/sudoers.d",
    "/etc/salt",
    "/srv/salt",
    "/srv/pillar",
    "/var/cache/salt",
    "/var/lib/salt",
    "/var/lib/mysql",
    "/etc/mysql",
    "/etc/my.cnf.d",
    "/var/lib/layline-formula",
    "/var/lib/prometheus",
    "/etc/prometheus",
    "/root",
    "/tmp",
    "/var/tmp",
    "/dev",
    "/proc",
    "/sys",
)

# the GECOS comment of the service account layline.install creates: an existing account
# without it is not the formula's (see docs/pillar.md, paths and the service account)
ACCOUNT_GECOS = "layline-formula service account"

# layline:nologin_shell must be one of these (a login shell would make the account usable)
NOLOGIN_SHELLS = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false")

# Salt's own ports and SSH: a layline listener there breaks the firewall table or the master
RESERVED_PORTS = {22: "SSH", 4505: "the Salt master (publish)", 4506: "the Salt master (return)"}

# minion ids as the formula writes them into targets (list targets, compound matchers):
# no ',', glob or brace characters, no whitespace
MINION_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,254}")

# layline:extra_config: the deepest nesting of mappings and lists accepted
MAX_EXTRA_DEPTH = 32

# pillar key -> allowed types (None: null allowed); keys not listed are checked elsewhere
TYPES = {
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

TYPE_NAMES = {
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
    ("reactive_engine", "pekko.remote.artery.enabled"): "nothing: the cluster talks Artery (TLS)",
    ("reactive_engine", "pekko.remote.classic"): "nothing: the classic transport has no TLS here",
    ("reactive_engine", "pekko.remote.enabled-transports"): "nothing: the cluster talks Artery",
    (
        "reactive_engine",
        "pekko.management.http.route-providers-read-only",
    ): "nothing: management's write routes (leave, down) stay off",
    (
        "reactive_engine",
        "pekko.management.http.route-providers",
    ): "nothing: the formula's health checks read the default routes",
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

INDEX_URL_RE = re.compile(r"^https?://[^\s/]+(/\S*)?$")

REQUIREMENTS_URL_RE = re.compile(r"^(salt|https?)://\S+$")

# Prometheus durations (promtool accepts the same): 30s, 1m30s, 1h, 1d
PROM_DURATION_RE = re.compile(r"^(?:[0-9]+(?:ms|s|m|h|d|w|y))+$")

PROM_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}

URL_PATH_RE = re.compile(r"^/[A-Za-z0-9._~/-]*$")

# systemd OnCalendar shorthands of layline:backup:on_calendar -> their period in seconds
BACKUP_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 604800, "monthly": 2678400}

# slack on top of the backup period before a backup counts as late (timer accuracy, dump time)
BACKUP_SLACK = 3600

BACKUP_TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
