"""Reading the HOCON configuration of the engine and the configuration server.

Every problem is raised as :class:`ConfigError` whose message names the offending key or
the parse problem, so callers can print ``ERROR <message>`` and exit 1.
"""

import datetime
import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

SBR_PROVIDER = "org.apache.pekko.cluster.sbr.SplitBrainResolverProvider"
SBR_STRATEGIES = ("keep-majority", "static-quorum", "keep-oldest", "down-all", "lease-majority")
SYSTEM_NAME = "layline"
ARTERY = "pekko.remote.artery"
ROTATING_KEYS = "org.apache.pekko.remote.artery.tcp.ssl.RotatingKeysSSLEngineProvider"
CONFIG_SSL_ENGINE = "org.apache.pekko.remote.artery.tcp.ConfigSSLEngineProvider"
# Pekko's remote/reference.conf: rotating-keys-engine's default file names
ROTATING_KEYS_MOUNT = "/var/run/secrets/pekko-tls/rotating-keys-engine"
_MISSING = object()
_SEED_RE = re.compile(r"^pekko://(?P<system>[^@/]+)@(?P<host>[^:/]+):(?P<port>\d+)$")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_UNITS = {
    "": 0.001,
    "ms": 0.001,
    "milli": 0.001,
    "millis": 0.001,
    "millisecond": 0.001,
    "milliseconds": 0.001,
    "s": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}


class ConfigError(Exception):
    """A configuration problem; the message names the key or the parse problem."""


def load(path):
    """Parse the HOCON file at ``path`` and return the pyhocon ConfigTree."""
    from pyhocon import ConfigFactory

    if not os.path.isfile(path):
        raise ConfigError(f"configuration file {path} not found")
    try:
        return ConfigFactory.parse_file(path, resolve=True)
    except Exception as exc:  # pyparsing / pyhocon raise many exception types
        raise ConfigError(f"cannot parse {path}: {type(exc).__name__}: {exc}") from exc


def get(conf, key, default=_MISSING):
    """Return ``conf[key]``; raise ConfigError naming ``key`` when missing and no default."""
    try:
        value = conf.get(key, None)
    except Exception as exc:  # wrong type on the way, e.g. a string where an object is
        raise ConfigError(f"invalid configuration key {key}: {exc}") from exc
    if value is None:
        if default is _MISSING:
            raise ConfigError(f"missing required configuration key {key}")
        return default
    return value


def get_int(conf, key, default=_MISSING):
    """Return an int key, naming ``key`` when it is missing or not a number."""
    value = get(conf, key, default)
    try:
        return int(str(value).strip())
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"configuration key {key} must be a number, got {value!r}") from exc


def get_bool(conf, key, default):
    """Return a boolean key (HOCON accepts on/off/yes/no/true/false)."""
    value = get(conf, key, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "on", "yes"):
        return True
    if text in ("false", "off", "no"):
        return False
    raise ConfigError(f"configuration key {key} must be a boolean, got {value!r}")


def duration_seconds(value, key="duration"):
    """Convert a HOCON duration ("20s", "5 s", 500 (= ms), timedelta) to seconds."""
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bool):
        raise ConfigError(f"configuration key {key} must be a duration, got {value!r}")
    if isinstance(value, int | float):
        return value / 1000.0
    if hasattr(value, "seconds") and hasattr(value, "days"):  # dateutil relativedelta
        return (
            getattr(value, "days", 0) * 86400
            + getattr(value, "hours", 0) * 3600
            + getattr(value, "minutes", 0) * 60
            + getattr(value, "seconds", 0)
            + getattr(value, "microseconds", 0) / 1e6
        )
    match = _DURATION_RE.match(str(value))
    if not match or match.group(2).lower() not in _UNITS:
        raise ConfigError(f"configuration key {key} must be a duration, got {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def get_duration(conf, key, default):
    """Return a duration key in seconds; ``default`` is given in seconds."""
    value = get(conf, key, None)
    return default if value is None else duration_seconds(value, key)


def parse_seed(seed, key="pekko.cluster.seed-nodes"):
    """Validate a seed address ``pekko://layline@host:port`` and return it normalised."""
    match = _SEED_RE.match(str(seed).strip())
    if not match:
        raise ConfigError(
            f"{key}: invalid seed node address {seed!r}, expected pekko://{SYSTEM_NAME}@host:port"
        )
    if match.group("system") != SYSTEM_NAME:
        raise ConfigError(
            f"{key}: seed node {seed!r} uses actor system name "
            f"{match.group('system')!r}, expected {SYSTEM_NAME!r}"
        )
    return f"pekko://{SYSTEM_NAME}@{match.group('host')}:{int(match.group('port'))}"


@dataclass
class JournalSettings:
    """Where the journal goes: ``kind`` is mysql, h2 or memory."""

    kind: str
    db_name: str = ""
    url: str = ""
    host: str = ""
    port: int = 3306
    database: str = ""
    user: str = ""
    password: str = field(default="", repr=False)
    ssl_required: bool = False
    ssl_verify: bool = False
    ssl_verify_identity: bool = False
    truststore_url: str = ""
    truststore_type: str = "JKS"
    truststore_password: str = field(default="", repr=False)
    h2_file: str = ""

    def describe(self):
        """A password-free description for logs."""
        if self.kind == "mysql":
            if not self.ssl_required:
                tls = "no TLS"
            elif self.ssl_verify_identity:
                tls = "TLS, server certificate and host name verified"
            elif self.ssl_verify:
                tls = "TLS, server certificate verified"
            else:
                tls = "TLS required, server not verified"
            return f"mysql {self.host}:{self.port}/{self.database} as {self.user} ({tls})"
        if self.kind == "h2":
            return f"h2 file {self.h2_file}"
        return "in-memory journal"


def _mysql_settings(db_name, url, user, password):
    match = re.match(r"^jdbc:mysql://([^/:?]+)(?::(\d+))?/([^?;]*)(?:\?(.*))?$", url)
    key = f"pekko-persistence-jdbc.shared-databases.{db_name}.db.url"
    if not match:
        raise ConfigError(f"{key}: cannot parse MySQL JDBC url")
    params = {k.lower(): v for k, v in parse_qsl(match.group(4) or "", keep_blank_values=True)}
    truthy = ("true", "yes", "1")
    ssl_mode = params.get("sslmode", "").upper()
    required = (
        params.get("usessl", "").lower() in truthy
        or params.get("requiressl", "").lower() in truthy
        or ssl_mode in ("REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY")
    )
    if ssl_mode == "DISABLED" or params.get("usessl", "").lower() in ("false", "no", "0"):
        required = False
    verify = params.get("verifyservercertificate", "").lower() in truthy or ssl_mode in (
        "VERIFY_CA",
        "VERIFY_IDENTITY",
    )
    # Connector/J property names are case-sensitive; parse_qsl keeps the last value
    raw = dict(parse_qsl(match.group(4) or "", keep_blank_values=True))
    return JournalSettings(
        kind="mysql",
        db_name=db_name,
        url=url,
        host=match.group(1),
        port=int(match.group(2) or 3306),
        database=match.group(3),
        user=str(user),
        password=str(password),
        ssl_required=required,
        ssl_verify=verify and required,
        ssl_verify_identity=required and ssl_mode == "VERIFY_IDENTITY",
        truststore_url=raw.get("trustCertificateKeyStoreUrl", ""),
        truststore_type=raw.get("trustCertificateKeyStoreType") or "JKS",
        truststore_password=raw.get("trustCertificateKeyStorePassword", ""),
    )


def journal_settings(conf):
    """Read the persistence keys; return JournalSettings (memory when no jdbc journal)."""
    plugin = get(conf, "pekko.persistence.journal.plugin", "")
    if plugin != "jdbc-journal":
        return JournalSettings(kind="memory")
    db_name = str(get(conf, "jdbc-journal.use-shared-db"))
    for other in ("jdbc-read-journal.use-shared-db", "jdbc-snapshot-store.use-shared-db"):
        value = get(conf, other, None)
        if value is not None and str(value) != db_name:
            raise ConfigError(
                f"{other} is {value!r} but jdbc-journal.use-shared-db is "
                f"{db_name!r}: they must name the same shared database"
            )
    base = f"pekko-persistence-jdbc.shared-databases.{db_name}"
    get(conf, base)
    url = str(get(conf, f"{base}.db.url"))
    user = get(conf, f"{base}.db.user", "")
    password = get(conf, f"{base}.db.password", "")
    if url.startswith("jdbc:mysql:"):
        return _mysql_settings(db_name, url, user, password)
    if url.startswith("jdbc:h2:file:"):
        path = url[len("jdbc:h2:file:") :].split(";", 1)[0]
        path = os.path.expanduser(path)
        return JournalSettings(kind="h2", db_name=db_name, url=url, h2_file=path + ".mv.db")
    if url.startswith("jdbc:h2:mem:"):
        return JournalSettings(kind="memory", db_name=db_name, url=url)
    raise ConfigError(
        f"{base}.db.url: unsupported JDBC url (simulator knows jdbc:mysql: and jdbc:h2:file:)"
    )


@dataclass
class ArteryTls:
    """The PEM files of Pekko's RotatingKeysSSLEngineProvider (transport tls-tcp)."""

    key_file: str
    cert_file: str
    ca_cert_file: str


def _pem_file(conf, key, default):
    path = str(get(conf, key, default))
    if not os.path.isabs(path):
        raise ConfigError(f"{key} must be an absolute path, got {path!r}")
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{key}: cannot read {path}: {exc}") from exc
    if "-----BEGIN " not in text:
        raise ConfigError(f"{key}: {path} is not a PEM file")
    return path


def artery_tls(conf):
    """None for transport tcp; the PEM files for tls-tcp (other transports: ConfigError)."""
    transport = str(get(conf, f"{ARTERY}.transport", "tcp"))
    if transport == "tcp":
        return None
    if transport != "tls-tcp":
        raise ConfigError(
            f"{ARTERY}.transport: the simulator knows tcp and tls-tcp, got {transport!r}"
        )
    provider = str(get(conf, f"{ARTERY}.ssl.ssl-engine-provider", CONFIG_SSL_ENGINE))
    if provider != ROTATING_KEYS:
        raise ConfigError(
            f"{ARTERY}.ssl.ssl-engine-provider: the simulator reads PEM files "
            f"with {ROTATING_KEYS} only, got {provider!r}"
        )
    engine = f"{ARTERY}.ssl.rotating-keys-engine"
    mount = str(get(conf, f"{engine}.secret-mount-point", ROTATING_KEYS_MOUNT))
    return ArteryTls(
        key_file=_pem_file(conf, f"{engine}.key-file", f"{mount}/tls.key"),
        cert_file=_pem_file(conf, f"{engine}.cert-file", f"{mount}/tls.crt"),
        ca_cert_file=_pem_file(conf, f"{engine}.ca-cert-file", f"{mount}/ca.crt"),
    )


@dataclass
class EngineSettings:
    """Everything the simulated reactive engine takes from application.conf."""

    rest_hostname: str
    rest_bind_hostname: str
    rest_port: int
    canonical_hostname: str
    canonical_port: int
    bind_hostname: str
    bind_port: int
    seed_nodes: list
    min_nr_of_members: int
    downing_provider_class: str
    active_strategy: str
    stable_after: float
    quorum_size: int
    down_if_alone: bool
    seed_node_timeout: float
    heartbeat_pause: float
    run_cs_when_down: bool
    exit_jvm: bool
    mgmt_bind_hostname: str
    mgmt_port: int
    mgmt_read_only: bool
    journal: JournalSettings
    tls: ArteryTls | None = None
    metrics_enabled: bool = False
    metrics_port: int = 9095

    @property
    def transport(self):
        """Artery's transport name as Pekko logs it."""
        return "tls-tcp" if self.tls else "tcp"

    @property
    def address(self):
        """This node's cluster address ``pekko://layline@host:port``."""
        return f"pekko://{SYSTEM_NAME}@{self.canonical_hostname}:{self.canonical_port}"

    @property
    def sbr_enabled(self):
        """True when the split-brain resolver is the downing provider."""
        return self.downing_provider_class == SBR_PROVIDER

    def compat(self):
        """Settings a joining node must share with the cluster (join compatibility check)."""
        return {
            "pekko.cluster.downing-provider-class": self.downing_provider_class,
            "pekko.cluster.split-brain-resolver.active-strategy": self.active_strategy,
        }


def _port(value, key):
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise ConfigError(f"configuration key {key} must be a number, got {value!r}") from exc


def engine_settings(conf):
    """Build EngineSettings from a parsed config, raising ConfigError naming bad keys."""
    provider = get(conf, "pekko.actor.provider")
    if str(provider) != "cluster":
        raise ConfigError(f"pekko.actor.provider must be cluster, got {provider!r}")
    rest = "layline.reactive-engine.rest-server"
    canonical_host = str(get(conf, "pekko.remote.artery.canonical.hostname"))
    canonical_port = get_int(conf, "pekko.remote.artery.canonical.port")
    seeds = get(conf, "pekko.cluster.seed-nodes")
    if isinstance(seeds, str) or not hasattr(seeds, "__iter__"):
        raise ConfigError("pekko.cluster.seed-nodes must be a list of pekko://layline@host:port")
    seeds = [parse_seed(s) for s in seeds]
    if not seeds:
        raise ConfigError("pekko.cluster.seed-nodes is empty (missing required seed nodes)")
    strategy = str(get(conf, "pekko.cluster.split-brain-resolver.active-strategy", "keep-majority"))
    provider_class = str(get(conf, "pekko.cluster.downing-provider-class", ""))
    if provider_class == SBR_PROVIDER and strategy not in SBR_STRATEGIES:
        raise ConfigError(
            f"pekko.cluster.split-brain-resolver.active-strategy: unknown strategy {strategy!r}"
        )
    quorum = get_int(conf, "pekko.cluster.split-brain-resolver.static-quorum.quorum-size", 0)
    if provider_class == SBR_PROVIDER and strategy == "static-quorum" and quorum < 1:
        raise ConfigError(
            "missing required configuration key "
            "pekko.cluster.split-brain-resolver.static-quorum.quorum-size"
        )
    mgmt = "pekko.management.http"
    mgmt_host = get(conf, f"{mgmt}.bind-hostname", None) or get(conf, f"{mgmt}.hostname", None)
    mgmt_port = get(conf, f"{mgmt}.bind-port", None) or get(conf, f"{mgmt}.port", 7626)
    return EngineSettings(
        rest_hostname=str(get(conf, f"{rest}.canonical.hostname", canonical_host)),
        rest_bind_hostname=str(get(conf, f"{rest}.bind.hostname", "0.0.0.0")),
        rest_port=get_int(conf, f"{rest}.bind.port"),
        canonical_hostname=canonical_host,
        canonical_port=canonical_port,
        bind_hostname=str(get(conf, "pekko.remote.artery.bind.hostname", canonical_host)),
        bind_port=get_int(conf, "pekko.remote.artery.bind.port", canonical_port),
        seed_nodes=seeds,
        min_nr_of_members=get_int(conf, "pekko.cluster.min-nr-of-members", 1),
        downing_provider_class=provider_class,
        active_strategy=strategy,
        stable_after=get_duration(conf, "pekko.cluster.split-brain-resolver.stable-after", 20.0),
        quorum_size=quorum,
        down_if_alone=get_bool(
            conf, "pekko.cluster.split-brain-resolver.keep-oldest.down-if-alone", True
        ),
        seed_node_timeout=get_duration(conf, "pekko.cluster.seed-node-timeout", 5.0),
        heartbeat_pause=get_duration(
            conf, "pekko.cluster.failure-detector.acceptable-heartbeat-pause", 3.0
        ),
        run_cs_when_down=get_bool(conf, "pekko.cluster.run-coordinated-shutdown-when-down", True),
        exit_jvm=get_bool(conf, "pekko.coordinated-shutdown.exit-jvm", False),
        mgmt_bind_hostname=str(mgmt_host or "0.0.0.0"),
        mgmt_port=_port(mgmt_port, f"{mgmt}.bind-port"),
        mgmt_read_only=get_bool(conf, f"{mgmt}.route-providers-read-only", True),
        journal=journal_settings(conf),
        tls=artery_tls(conf),
        metrics_enabled=get_bool(conf, "layline.reactive-engine.metrics.enabled", False),
        metrics_port=get_int(conf, "layline.reactive-engine.metrics.port", 9095),
    )


@dataclass
class ConfigServerSettings:
    """What the simulated configuration server takes from its application.conf."""

    canonical_hostname: str
    bind_hostname: str
    bind_hostname_defaulted: bool
    port: int
    journal: JournalSettings


def config_server_settings(conf):
    """Build ConfigServerSettings from a parsed config."""
    rest = "layline.config-server.rest-server"
    bind_host = get(conf, f"{rest}.bind.hostname", None)
    return ConfigServerSettings(
        canonical_hostname=str(get(conf, f"{rest}.canonical.hostname", "localhost")),
        bind_hostname=str(bind_host or "127.0.0.1"),
        bind_hostname_defaulted=bind_host is None,
        port=get_int(conf, f"{rest}.bind.port", 5841),
        journal=journal_settings(conf),
    )
